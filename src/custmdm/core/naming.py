"""Naming rules: saving them, and the cached set every name is checked against."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.domain.customer import Kind, parse_choice
from custmdm.domain.naming import NamingRule, check_name
from custmdm.errors import Conflict, InvalidFormat, NotFound
from custmdm.security.access import Permission
from custmdm.store.tables import naming_rule

#: How long a process trusts the naming rules it loaded (another process may add some).
NAMING_RULES_CACHE_SECONDS = 2.0


def add_naming_rule(ctx: Context, rule: NamingRule) -> NamingRule:
    """Save a naming rule. It applies to names given from now on."""
    ctx.require(Permission.MANAGE_RULES)
    name = rule.name.strip()
    if not name or len(name) > 64:
        raise InvalidFormat("a naming rule needs a name of 1 to 64 characters")
    if rule.kind is not None:
        parse_choice(Kind, rule.kind, "kind")
    try:
        with ctx.store.write() as conn:
            now = ctx.now()
            conn.execute(naming_rule.insert().values(
                name=name, kind=rule.kind, name_kinds=list(rule.name_kinds),
                required_parts=list(rule.required_parts),
                forbidden_words=list(rule.forbidden_words), min_length=rule.min_length,
                max_length=rule.max_length, allowed_characters=list(rule.allowed_characters),
                extra_characters=rule.extra_characters, description=rule.description,
                created_at=now, created_by=ctx.actor.name))
            write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "naming_rule.add",
                                                    "naming_rule", name, asdict(rule), now)])
    except IntegrityError:
        raise Conflict(f"a naming rule named {name!r} exists; remove it first") from None
    ctx.naming_rules = None
    return rule


def remove_naming_rule(ctx: Context, name: str) -> None:
    """Remove a naming rule (names given under it stay as they are)."""
    ctx.require(Permission.MANAGE_RULES)
    with ctx.store.write() as conn:
        gone = conn.execute(delete(naming_rule).where(naming_rule.c.name == name)).rowcount
        if not gone:
            raise NotFound(f"no naming rule named {name!r}")
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "naming_rule.remove",
                                                "naming_rule", name, {}, ctx.now())])
    ctx.naming_rules = None


def naming_rules(ctx: Context) -> list[NamingRule]:
    """Every naming rule, by name (loaded from the database)."""
    ctx.require_user()
    with ctx.store.read() as conn:
        rows = conn.execute(select(naming_rule).order_by(naming_rule.c.name)).all()
    return [NamingRule(r.name, r.kind, tuple(r.name_kinds), tuple(r.required_parts),
                       tuple(r.forbidden_words), r.min_length, r.max_length,
                       tuple(r.allowed_characters), r.extra_characters, r.description)
            for r in rows]


def cached_naming_rules(ctx: Context) -> Sequence[NamingRule]:
    """The naming rules as this process last loaded them (at most a few seconds old)."""
    now = time.monotonic()
    if ctx.naming_rules is None or now - ctx.naming_rules_loaded_at > NAMING_RULES_CACHE_SECONDS:
        ctx.naming_rules = naming_rules(ctx)
        ctx.naming_rules_loaded_at = now
    return ctx.naming_rules


def check(ctx: Context, customer_kind: str, name_kind: str, text: str) -> None:
    """Raise InvalidComponent if ``text`` breaks a naming rule that applies."""
    check_name(cached_naming_rules(ctx), customer_kind, name_kind, text)
