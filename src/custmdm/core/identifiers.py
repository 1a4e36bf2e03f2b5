"""A customer's official identifiers (USCC, ID number, VAT number …) after registration:
adding one (a prospect registered without its USCC gets it later) and removing a wrong
one. Each change is one transaction, audited, and runs the duplicate check first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from custmdm.core import dedup
from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.core.customers import CustomerRecord
from custmdm.core.registry import (
    bump_version,
    changeable,
    get_customer_by_id,
    held_identifier,
    identifiers_guarded,
    require_reason,
    require_version,
)
from custmdm.domain.identifiers import Identifier, make_identifier, normalise_scheme
from custmdm.domain.matching import MatchRecord
from custmdm.errors import Conflict, NotFound, ValidationError
from custmdm.security.fields import shown_identifier
from custmdm.store.tables import identifier


def add_identifier(ctx: Context, code: str, scheme: str, value: str, *,
                   override_reason: str | None = None) -> CustomerRecord:
    """Give a customer an identifier of a scheme it has none of. Refused when another
    active customer holds it (naming that customer); checked for duplicates like a
    registration (the customer as stored, with the new identifier, against everyone
    else); filed under it in the blocking index in the same transaction."""
    ident = make_identifier(scheme, value)
    record = changeable(ctx, code, "identifiers")
    held = next((i for i in record.identifiers if i.scheme == ident.scheme), None)
    if held is not None:
        raise Conflict(f"customer {record.code} already has {held.scheme} "
                       f"{_shown(record)[held]}; a "
                       "customer has one identifier per scheme: remove that one first "
                       "(`custmdm identifier remove`) if it is wrong")
    held_elsewhere = held_identifier(ctx, [ident], hint="remove it from that customer "
                                     "first if it is wrong there, or merge the two")
    if held_elsewhere is not None:  # say so first: no override can get past it
        raise held_elsewhere
    override = dedup.guard_new_identifier(ctx, record.id, f"{ident.scheme}:{ident.value}",
                                          override_reason)
    with identifiers_guarded(ctx, [ident]), ctx.store.write() as conn:
        now = ctx.now()
        bump_version(conn, record, now)
        conn.execute(identifier.insert().values(
            customer_id=record.id, active=True, created_at=now,
            **ctx.store.fields.identifier_row(ident.scheme, ident.value)))
        dedup.file_keys(ctx, conn, record.id, MatchRecord(
            "", (), identifiers=frozenset({f"{ident.scheme}:{ident.value}"})))
        detail: dict[str, Any] = {"code": record.code, "scheme": ident.scheme,
                                  "value": shown_identifier(ident.scheme, ident.value)}
        if override is not None:
            detail["duplicate_override"] = override
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "customer.identifier.add", "customer", record.id, detail, now)])
    return get_customer_by_id(ctx, record.id)


def _shown(record: CustomerRecord) -> dict[Identifier, str]:
    """Each identifier's value as the actor is shown it (an individual's masked)."""
    return {i: shown.value for i, shown in zip(record.identifiers,
                                                record.shown_identifiers(), strict=True)}


def remove_identifier(ctx: Context, code: str, scheme: str, reason: str, *,
                      value: str | None = None,
                      expected_version: int | None = None) -> CustomerRecord:
    """Remove a customer's identifier of ``scheme`` (one given in error), so it is no
    longer evidence for or against a match and another customer may hold it. A merge
    can leave a customer with two of a scheme: then ``value`` says which. The audit
    entry keeps the value and the reason."""
    reason = require_reason(reason)
    scheme = normalise_scheme(scheme)
    record = changeable(ctx, code, "identifiers")
    require_version(record, expected_version)
    held = [i for i in record.identifiers if i.scheme == scheme]
    if value is not None:
        wanted = make_identifier(scheme, value).value
        held = [i for i in held if i.value == wanted]
    if not held:
        have = ", ".join(f"{i.scheme}={i.value}" for i in record.shown_identifiers()
                         ) or "none"
        given = f"{scheme} {value}" if value is not None else scheme
        raise NotFound(f"customer {record.code} has no {given} identifier (it has: {have})")
    if len(held) > 1:
        raise ValidationError(f"customer {record.code} has {len(held)} {scheme} identifiers "
                              f"({', '.join(_shown(record)[i] for i in held)}); "
                              "say which: "
                              f"{scheme}=VALUE")
    removed = held[0]
    with ctx.store.write() as conn:
        now = ctx.now()
        bump_version(conn, record, now)
        conn.execute(delete(identifier).where(identifier.c.customer_id == record.id,
                                              identifier.c.scheme == scheme,
                                              identifier.c.value == ctx.store.fields
                                              .identifier_value(scheme, removed.value),
                                              identifier.c.active))
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "customer.identifier.remove", "customer", record.id,
            {"code": record.code, "scheme": scheme,
             "value": shown_identifier(scheme, removed.value),
             "reason": reason}, now)])
    return get_customer_by_id(ctx, record.id)
