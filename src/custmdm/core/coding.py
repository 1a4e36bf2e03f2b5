"""Coding rules and code allocation: the use cases behind ``custmdm rule …``.

A **gapless** rule takes its number inside the registering transaction (on PostgreSQL
inside one statement that also writes the customer), so a rollback gives the number
back. Other rules may leave gaps; on PostgreSQL a process reserves their codes ahead in
short transactions of their own (recorded as ``reserved``), so their counters are never
held while a customer is written; unused reservations are voided. On SQLite, and in
bulk loads, every rule takes its numbers inside the writing transaction. Either way
every number ever taken is in ``customer_code`` with its status, and a code is written
only while its rule version is current (share-locked on PostgreSQL, so a new version
waits for codes in flight and then sees them).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Executable, func, insert, select, update

from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.core.customers import resolve_industry, resolve_region
from custmdm.domain.codes import CodeContext
from custmdm.domain.customer import CodeStatus, Grade, Kind, parse_choice
from custmdm.domain.rules import CodingRule, CounterScope, RuleConditions
from custmdm.errors import (
    Conflict,
    CounterExhausted,
    InvalidChecksum,
    NotFound,
    RuleViolation,
    ValidationError,
)
from custmdm.security.access import Permission
from custmdm.standards.countries import get_country
from custmdm.standards.industries import get_industry
from custmdm.standards.regions import get_region
from custmdm.store.database import Store
from custmdm.store.registration import insert_code_if_rule_current
from custmdm.store.tables import code_counter, coding_rule, customer_code


@dataclass(frozen=True)
class RuleSummary:
    """A rule's current version with its usage, for listings."""

    rule: CodingRule
    codes_issued: int
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        r = self.rule
        c = r.conditions
        return {
            "name": r.name,
            "version": r.version,
            "pattern": r.pattern.text,
            "priority": r.priority,
            "gapless": r.gapless,
            "counter_scope": r.counter_scope,
            "conditions": {
                "kind": c.kind,
                "region_prefix": c.region_prefix,
                "industry": c.industry,
                "grade": c.grade,
            },
            "kind_letters": dict(r.pattern.letters.kind),
            "grade_letters": dict(r.pattern.letters.grade),
            "codes_issued": self.codes_issued,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


# -- reading rules ----------------------------------------------------------------------


def _rule_from_row(ctx: Context, row: Any) -> CodingRule:
    """Parse a rule row once: versions are immutable rows, so the parse never goes stale."""
    cached = ctx.rule_cache.get(row.id)
    if cached is None:
        cached = CodingRule.build(
            row.name,
            row.pattern,
            kind=row.cond_kind,
            region_prefix=row.cond_region_prefix,
            industry=row.cond_industry,
            grade=row.cond_grade,
            priority=row.priority,
            gapless=row.gapless,
            counter_scope=row.counter_scope,
            kind_letters=row.kind_letters,
            grade_letters=row.grade_letters,
            version=row.version,
            id=row.id,
        )
        ctx.rule_cache[row.id] = cached
    return cached


def current_rules(ctx: Context, conn: Connection, lock: bool = False) -> list[CodingRule]:
    """Every rule's current version; with ``lock``, share-locked until the transaction
    ends, so no new version can be saved while this transaction issues codes."""
    query = select(coding_rule).where(coding_rule.c.is_current)
    if lock:
        query = query.with_for_update(read=True)
    return [_rule_from_row(ctx, r) for r in conn.execute(query)]


def rule_versions(ctx: Context, conn: Connection) -> dict[int, CodingRule]:
    """Every version of every rule, by id (for reading old codes back)."""
    return {r.id: _rule_from_row(ctx, r) for r in conn.execute(select(coding_rule))}


def _current_rule(ctx: Context, conn: Connection, name: str) -> CodingRule:
    row = conn.execute(
        select(coding_rule).where(coding_rule.c.name == name, coding_rule.c.is_current)
    ).first()
    if row is None:
        known = ", ".join(sorted(r.name for r in current_rules(ctx, conn))) or "none yet"
        raise NotFound(f"no coding rule named {name!r} (rules: {known})")
    return _rule_from_row(ctx, row)


def list_rules(ctx: Context) -> list[RuleSummary]:
    """Current rules in the order they are tried, with how many codes each issued."""
    ctx.require_user()
    with ctx.store.read() as conn:
        issued = {
            name: int(n) for name, n in conn.execute(
                select(coding_rule.c.name, func.count(customer_code.c.id))
                .join(customer_code, customer_code.c.rule_id == coding_rule.c.id)
                .where(customer_code.c.status != CodeStatus.VOID.value)
                .group_by(coding_rule.c.name)
            )
        }
        rows = conn.execute(select(coding_rule).where(coding_rule.c.is_current)).all()
        summaries = [
            RuleSummary(_rule_from_row(ctx, r), issued.get(r.name, 0), r.created_at, r.created_by)
            for r in rows
        ]
    return sorted(summaries, key=lambda s: (s.rule.priority, s.rule.name))


# -- saving rules -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleTarget:
    """What a rule change request is about: the rule and its version then (0: new)."""

    name: str
    version: int


def current_version(ctx: Context, name: str) -> int:
    """The current version of a coding rule; 0 if there is none."""
    with ctx.store.read() as conn:
        found = conn.execute(select(coding_rule.c.version).where(
            coding_rule.c.name == name, coding_rule.c.is_current)).scalar()
    return int(found or 0)


def save_rule(
    ctx: Context,
    name: str,
    pattern: str,
    *,
    kind: str | None = None,
    region_prefix: str | None = None,
    industry: str | None = None,
    grade: str | None = None,
    priority: int | None = None,
    gapless: bool | None = None,
    counter_scope: CounterScope | None = None,
    kind_letters: Mapping[str, str] | None = None,
    grade_letters: Mapping[str, str] | None = None,
    new_version: bool = False,
) -> CodingRule:
    """Add a rule (``new_version=False``) or a new version of an existing one.

    Options left as None take their defaults for a new rule and are inherited from the
    current version for a new version. Refused when the pattern is malformed, when it
    could render a code another current rule could render, or when it could render a
    code that was already recorded.

    Rule saves are serialised (SQLite: the write lock; PostgreSQL: an advisory lock),
    and the previous version's row is locked before the checks, so registrations still
    using it finish first and their codes are seen by the checks.
    """
    ctx.require(Permission.MANAGE_RULES)
    ctx.approvals.check(ctx, "rule.change", {
        "name": name.strip(), "pattern": pattern, "kind": kind, "region_prefix": region_prefix,
        "industry": industry, "grade": grade, "priority": priority, "gapless": gapless,
        "counter_scope": counter_scope, "kind_letters": dict(kind_letters or {}) or None,
        "grade_letters": dict(grade_letters or {}) or None, "new_version": new_version,
    }, [RuleTarget(name.strip(), current_version(ctx, name.strip()))])
    with ctx.store.write() as conn:
        ctx.store.lock_rule_changes(conn)
        previous = conn.execute(
            select(coding_rule)
            .where(coding_rule.c.name == name.strip(), coding_rule.c.is_current)
            .with_for_update()
        ).first()
        if previous is not None and not new_version:
            raise Conflict(
                f"coding rule {name.strip()!r} exists (version {previous.version}); "
                "change it with `custmdm rule update`, which makes a new version"
            )
        if previous is None and new_version:
            raise NotFound(f"no coding rule named {name.strip()!r}; add it first")
        if previous is None and conn.execute(select(coding_rule.c.id).where(
                coding_rule.c.name == name.strip()).limit(1)).first() is not None:
            raise Conflict(f"coding rule {name.strip()!r} was retired; its name stays with "
                           "the codes it gave: choose another name")
        old = _rule_from_row(ctx, previous) if previous is not None else None
        base = old.conditions if old else RuleConditions()
        letters = old.pattern.letters if old else None
        draft = CodingRule.build(
            name, pattern,
            kind=kind or base.kind, region_prefix=region_prefix or base.region_prefix,
            industry=industry or base.industry, grade=grade or base.grade,
            priority=priority if priority is not None else (old.priority if old else 100),
            gapless=gapless if gapless is not None else (old.gapless if old else False),
            counter_scope=counter_scope or (old.counter_scope if old else "prefix"),
            kind_letters=kind_letters or (letters.kind if letters else None),
            grade_letters=grade_letters or (letters.grade if letters else None),
        )
        _check_condition_references(draft.conditions)
        others = [r for r in current_rules(ctx, conn) if r.name != draft.name]
        _refuse_overlaps(draft, others)
        _refuse_issued_collisions(conn, draft, old)
        version = old.version + 1 if old else 1
        if previous is not None:
            conn.execute(
                update(coding_rule).where(coding_rule.c.id == previous.id).values(is_current=False)
            )
        now = ctx.now()
        rule_id = conn.execute(
            insert(coding_rule).returning(coding_rule.c.id),
            _rule_row(draft, version, now, ctx.actor.name),
        ).scalar_one()
        saved = replace(draft, version=version, id=int(rule_id))
        ctx.current_rules = None  # this process sees its own change at once
        action = "rule.update" if old else "rule.add"
        detail = {"name": saved.name, "version": version, "pattern": saved.pattern.text,
                  "conditions": saved.conditions.describe(), "gapless": saved.gapless,
                  "priority": saved.priority, "counter_scope": saved.counter_scope}
        if old:
            detail["previous_pattern"] = old.pattern.text
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, action, "coding_rule",
                                                saved.name, detail, now)])
    return saved


def retire_rule(ctx: Context, name: str, reason: str) -> CodingRule:
    """Stop a rule giving codes: no customer gets one from it any more, and the next
    fitting rule applies. Its codes stay, unique for ever, and so does its name (it is
    not reused). Serialised with rule saves; may need approval (rule.change)."""
    from custmdm.core.registry import require_reason

    ctx.require(Permission.MANAGE_RULES)
    reason = require_reason(reason)
    name = name.strip()
    version = current_version(ctx, name)
    if not version:
        raise NotFound(f"no current coding rule named {name!r}; see `custmdm rule list`")
    ctx.approvals.check(ctx, "rule.change", {"name": name, "retire": True, "reason": reason},
                        [RuleTarget(name, version)])
    with ctx.store.write() as conn:
        ctx.store.lock_rule_changes(conn)
        current = conn.execute(
            select(coding_rule)
            .where(coding_rule.c.name == name, coding_rule.c.is_current)
            .with_for_update()).first()
        if current is None:
            raise NotFound(f"no current coding rule named {name!r}; see `custmdm rule list`")
        conn.execute(update(coding_rule).where(coding_rule.c.id == current.id)
                     .values(is_current=False))
        rule = _rule_from_row(ctx, current)
        ctx.current_rules = None
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "rule.retire", "coding_rule", name,
            {"name": name, "version": rule.version, "reason": reason}, ctx.now())])
    ctx.reservations.release(ctx, f"coding rule {name} retired", rule.id)
    return rule


def _rule_row(rule: CodingRule, version: int, now: datetime, actor: str) -> dict[str, Any]:
    cond = rule.conditions
    return {
        "name": rule.name,
        "version": version,
        "is_current": True,
        "pattern": rule.pattern.text,
        "priority": rule.priority,
        "gapless": rule.gapless,
        "counter_scope": rule.counter_scope,
        "cond_kind": cond.kind,
        "cond_region_prefix": cond.region_prefix,
        "cond_industry": cond.industry,
        "cond_grade": cond.grade,
        "kind_letters": dict(rule.pattern.letters.kind),
        "grade_letters": dict(rule.pattern.letters.grade),
        "created_at": now,
        "created_by": actor,
    }


def _check_condition_references(cond: RuleConditions) -> None:
    """Conditions must name real regions, countries and industries."""
    prefix = cond.region_prefix
    if prefix and prefix.isdigit():
        if len(prefix) % 2:
            raise ValidationError(
                f"region prefix {prefix!r} must have 2, 4 or 6 digits (province, "
                "prefecture, county)"
            )
        get_region(prefix)
    elif prefix:
        get_country(prefix)
    if cond.industry:
        get_industry(cond.industry)


def _refuse_overlaps(rule: CodingRule, others: Sequence[CodingRule]) -> None:
    for other in others:
        example = rule.collision_example(other)
        if example is not None:
            raise Conflict(
                f"rule {rule.name!r} ({rule.pattern.text}) could render the same codes as "
                f"rule {other.name!r} ({other.pattern.text}), e.g. {example}; give one of "
                "them a different literal prefix, length or narrower conditions"
            )


def _refuse_issued_collisions(
    conn: Connection, rule: CodingRule, old: CodingRule | None
) -> None:
    """No code already in the register may fit the new pattern.

    A new version that renders and counts exactly like the old one continues its
    counters, so its own earlier codes are safe and are not held against it.
    """
    query = select(customer_code.c.value, coding_rule.c.name).outerjoin(
        coding_rule, coding_rule.c.id == customer_code.c.rule_id
    ).where(func.length(customer_code.c.value) == rule.pattern.length)
    prefix = rule.pattern.like_prefix()
    if prefix:
        query = query.where(customer_code.c.value.startswith(prefix, autoescape=True))
    if old is not None and rule.same_numbering(old):
        query = query.where((coding_rule.c.name != rule.name) | coding_rule.c.name.is_(None))
    for value, owner_rule in conn.execute(query):
        if rule.pattern.fits(value):
            source = f"rule {owner_rule!r}"
            raise Conflict(
                f"pattern {rule.pattern.text} could render {value}, a code already issued "
                f"by {source}; codes are never reused — choose a pattern that cannot "
                "produce it (another prefix or width)"
            )


# -- counters and allocation -------------------------------------------------------------


def peek_counter(conn: Connection, rule: CodingRule, scope_key: str) -> int:
    """The next number of a counter, without taking it (1 if it was never used)."""
    next_value = conn.execute(
        select(code_counter.c.next_value).where(
            code_counter.c.rule_name == rule.name, code_counter.c.scope_key == scope_key
        )
    ).scalar()
    return int(next_value or 1)


def take_sequence(
    store: Store, conn: Connection, rule: CodingRule, scope_key: str, count: int = 1
) -> int:
    """Take ``count`` consecutive sequence numbers of one counter; returns the first."""
    return take_sequences(store, conn, [(rule, scope_key, count)])[0]


def _counter_upsert(store: Store) -> Executable:
    insert_counter = store.dialect_insert(code_counter)
    return insert_counter.on_conflict_do_update(
        index_elements=[code_counter.c.rule_name, code_counter.c.scope_key],
        set_={"next_value": code_counter.c.next_value + insert_counter.excluded.next_value - 1},
    ).returning(code_counter.c.next_value, sort_by_parameter_order=True)


def take_sequences(
    store: Store, conn: Connection, requests: Sequence[tuple[CodingRule, str, int]]
) -> list[int]:
    """Take consecutive numbers from several counters in one statement.

    Each request is ``(rule, scope key, how many)``; the result is the first number of
    each. The upsert locks the counter rows until the transaction ends, so a rollback
    gives the numbers back; rows are locked in a fixed order, so two bulk loads never
    deadlock. Counters never wrap: past the width it raises, and the rollback takes
    nothing.
    """
    order = sorted(range(len(requests)), key=lambda i: (requests[i][0].name, requests[i][1]))
    upsert = store.statement("counter_upsert", _counter_upsert)
    rows = [{"rule_name": requests[i][0].name, "scope_key": requests[i][1],
             "next_value": requests[i][2] + 1} for i in order]
    if len(rows) == 1:
        after = [int(conn.execute(upsert, rows[0]).scalar_one())]
    else:
        after = [int(v) for v in conn.execute(upsert, rows).scalars()]
    firsts = [0] * len(requests)
    for i, next_value in zip(order, after, strict=True):
        rule, scope_key, count = requests[i]
        if next_value - 1 > rule.pattern.max_seq:
            scope = f" for {scope_key}" if scope_key else ""
            raise CounterExhausted(
                f"coding rule {rule.name!r}: the counter{scope} has reached "
                f"{rule.pattern.max_seq}, the largest {rule.pattern.seq.source} can hold; "
                "counters never wrap — add a new version with a wider {seq:N} or another "
                "prefix"
            )
        firsts[i] = next_value - count
    return firsts


class StaleRule(Conflict):
    """The rule version chosen from the cache is no longer current; choose again."""

    def __init__(self, name: str) -> None:
        super().__init__(f"coding rule {name!r} was changed meanwhile; try again")


#: How long a process trusts its list of current rules before reading it again, so
#: rules added elsewhere apply within this time (changed versions apply at once).
RULES_CACHE_SECONDS = 2.0


def cached_rules(ctx: Context) -> list[CodingRule]:
    """The current rules as this process last saw them; loads them the first time.

    Only a first guess: :func:`issue_code` records a code only if its rule version is
    still current in the same statement, so a stale guess costs a retry, never a code
    from a superseded version.
    """
    now = time.monotonic()
    if ctx.current_rules is None or now - ctx.rules_loaded_at > RULES_CACHE_SECONDS:
        with ctx.store.autocommit() as conn:
            ctx.current_rules = current_rules(ctx, conn)
        ctx.rules_loaded_at = now
    return ctx.current_rules


def refresh_rules(ctx: Context) -> list[CodingRule]:
    """Forget the cached rules and load them again."""
    ctx.current_rules = None
    return cached_rules(ctx)


def issue_code(
    ctx: Context,
    conn: Connection,
    rule: CodingRule,
    code_ctx: CodeContext,
    customer_id: int | None,
    status: CodeStatus = CodeStatus.ACTIVE,
) -> tuple[int, str]:
    """Take the next number of ``rule`` and record the code; returns (row id, value).

    The code row is inserted only while the rule version is current (checked in the
    same statement); otherwise :class:`StaleRule` is raised and the caller's rollback
    returns the number.
    """
    scope_key = rule.counter_key(code_ctx)
    seq = take_sequence(ctx.store, conn, rule, scope_key)
    value = rule.pattern.render(code_ctx, seq)
    row = {
        "value": value,
        "customer_id": customer_id,
        "rule_id": rule.id,
        "scope_key": scope_key,
        "seq": seq,
        "status": status.value,
        "issued_at": ctx.now(),
    }
    code_id = insert_code_if_rule_current(conn, row)
    if code_id is None:
        raise StaleRule(rule.name)
    return code_id, value


@dataclass
class Reservation:
    """A gap-allowed code taken ahead of the registering transaction."""

    code_id: int
    value: str
    rule: CodingRule
    series: tuple[int, str] = (0, "")


#: The largest block of gap-allowed codes one process reserves at a time.
MAX_RESERVATION_BLOCK = 256
#: A block used up faster than this makes the next one twice as large; one that
#: lasted ten times longer makes it half as large. So a busy writer touches the
#: counter about once a second, and a quiet one leaves few codes to void at exit.
RESERVATION_BLOCK_SECONDS = 1.0


def reserve_codes(
    ctx: Context, rule: CodingRule, code_ctx: CodeContext, count: int
) -> list[Reservation]:
    """Reserve ``count`` consecutive gap-allowed codes in one short transaction.

    The counter row is locked only for this transaction, never while a customer is
    written. The codes are recorded as ``reserved`` at once, so whether they are then
    used, voided, or left behind by a crashed process, every gap is explained.
    """
    scope_key = rule.counter_key(code_ctx)
    now = ctx.now()
    with ctx.store.write() as conn:
        if not _lock_if_current(conn, rule):
            raise StaleRule(rule.name)
        first = take_sequence(ctx.store, conn, rule, scope_key, count)
        values = [rule.pattern.render(code_ctx, first)]
        values.extend(rule.pattern.with_seq(values[0], seq)
                      for seq in range(first + 1, first + count))
        audit = audit_row(ctx.actor.name, "code.reserve", "coding_rule", rule.name,
                          {"codes": values, "version": rule.version}, now)
        ids = ctx.writer.insert_reserved(conn, rule.id or 0, scope_key, first, values, now,
                                         audit)
    return [Reservation(i, v, rule) for i, v in zip(ids, values, strict=True)]


def _lock_if_current(conn: Connection, rule: CodingRule) -> bool:
    """Share-lock the rule version for this transaction; False if it is not current."""
    return conn.execute(
        select(coding_rule.c.id)
        .where(coding_rule.c.id == rule.id, coding_rule.c.is_current)
        .with_for_update(read=True)
    ).first() is not None


class ReservationPool:
    """Gap-allowed codes this process has reserved but not yet used.

    A process that keeps registering reserves codes in growing blocks (1, 2, 4 …
    up to 256 per series, see RESERVATION_BLOCK_SECONDS), so the counter is touched
    once per block instead of once per customer; a process that registers once
    reserves exactly one. Whatever is left when the register is closed is voided; a
    crash leaves it ``reserved``.
    """

    def __init__(self) -> None:
        self._blocks: dict[tuple[int, str], deque[Reservation]] = {}
        self._sizes: dict[tuple[int, str], tuple[int, float]] = {}  # size, reserved at

    def take(self, ctx: Context, rule: CodingRule, code_ctx: CodeContext) -> Reservation:
        """The next reserved code for this customer's series."""
        key = (rule.id or 0, rule.pattern.series_key(code_ctx))
        queue = self._blocks.get(key)
        if not queue:
            size = self._next_size(key)
            try:
                block = reserve_codes(ctx, rule, code_ctx, size)
            except CounterExhausted:
                if size == 1:
                    raise
                # Near the end of the counter's width: take the last numbers one by one.
                size, block = 1, reserve_codes(ctx, rule, code_ctx, 1)
            self._sizes[key] = (size, time.monotonic())
            queue = self._blocks[key] = deque(block)
        reservation = queue.popleft()
        reservation.series = key
        return reservation

    def _next_size(self, key: tuple[int, str]) -> int:
        last = self._sizes.get(key)
        if last is None:
            return 1
        size, reserved_at = last
        lasted = time.monotonic() - reserved_at
        if lasted < RESERVATION_BLOCK_SECONDS:
            return min(size * 2, MAX_RESERVATION_BLOCK)
        if lasted > 10 * RESERVATION_BLOCK_SECONDS:
            return max(size // 2, 1)
        return size

    def give_back(self, reservation: Reservation) -> None:
        """Return an unused code (its registration failed as a whole)."""
        self._blocks.setdefault(reservation.series, deque()).appendleft(reservation)

    def release(self, ctx: Context, reason: str, rule_id: int | None = None) -> int:
        """Void the reserved codes (of one rule version, or all); returns how many."""
        keys = [k for k in self._blocks if rule_id is None or k[0] == rule_id]
        unused = [r for k in keys for r in self._blocks.pop(k)]
        for k in keys:
            self._sizes.pop(k, None)
        if unused:
            now = ctx.now()
            with ctx.store.write() as conn:
                conn.execute(
                    update(customer_code)
                    .where(customer_code.c.id.in_([r.code_id for r in unused]),
                           customer_code.c.status == CodeStatus.RESERVED.value)
                    .values(status=CodeStatus.VOID.value, ended_at=now, reason=reason)
                )
                write_audit(ctx.store, conn, [audit_row(
                    ctx.actor.name, "code.void", "customer_code", unused[0].value,
                    {"codes": [r.value for r in unused], "reason": reason}, now)])
        return len(unused)


#: The most codes one preview shows.
MAX_PREVIEW = 1000


# -- preview -----------------------------------------------------------------------------


def preview_codes(
    ctx: Context, name: str, *, kind: str | None = None, region: str | None = None,
    industry: str | None = None, grade: str | None = None, count: int = 5,
) -> list[str]:
    """The next ``count`` codes the rule would give such a customer; consumes nothing.
    Facts not given come from the rule's own conditions."""
    ctx.require_user()
    if not 1 <= count <= MAX_PREVIEW:
        raise ValidationError(f"preview shows 1 to {MAX_PREVIEW} codes, not {count}")
    with ctx.store.read() as conn:
        rule = _current_rule(ctx, conn, name)
        code_ctx = sample_context(rule, kind, region, industry, grade, ctx.today())
        if not rule.conditions.matches(code_ctx):
            raise RuleViolation(
                f"rule {rule.name!r} applies to {rule.conditions.describe()}; preview it "
                "for such a customer (--kind, --region, --industry, --grade)"
            )
        scope_key = rule.counter_key(code_ctx)
        first = peek_counter(conn, rule, scope_key)
    last = min(first + count - 1, rule.pattern.max_seq)
    if first > rule.pattern.max_seq:
        raise CounterExhausted(f"coding rule {rule.name!r} has no numbers left for {scope_key}")
    return [rule.pattern.render(code_ctx, seq) for seq in range(first, last + 1)]


def sample_context(
    rule: CodingRule, kind: str | None, region: str | None, industry: str | None,
    grade: str | None, issued_on: date,
) -> CodeContext:
    """A customer context for previews: given values, else the rule's own conditions."""
    cond = rule.conditions
    region = region or cond.region_prefix
    country, region_code = resolve_region(region)
    _, section, division = resolve_industry(industry or cond.industry)
    return CodeContext(
        kind=parse_choice(Kind, kind, "kind").value if kind else cond.kind or "enterprise",
        issued_on=issued_on,
        region=region_code,
        country=country,
        industry_section=section,
        industry_division=division,
        grade=parse_choice(Grade, grade, "grade").value if grade else cond.grade,
    )


def rule_fitting(rules: Sequence[CodingRule], value: str) -> CodingRule:
    """The rule whose pattern ``value`` fits, checking its check character.

    A value that fits a rule's shape but carries the wrong check character is a typing
    error, reported as such.
    """
    fitting = [r for r in rules if r.pattern.fits(value)]
    for rule in fitting:
        if rule.pattern.verify(value):
            return rule
    if fitting:
        rule = fitting[0]
        raise InvalidChecksum(
            f"code {value} fails its check character (rule {rule.name!r}, "
            f"{rule.pattern.text}): check it for a typing error"
        )
    raise RuleViolation(
        f"code {value!r} fits no coding rule; patterns in use: "
        + (", ".join(f"{r.name}={r.pattern.text}" for r in rules) or "none")
    )
