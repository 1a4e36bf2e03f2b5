"""Registering one customer, finding, re-coding and retiring: one transaction each.

Bulk loads live in :mod:`custmdm.core.bulk`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from custmdm.core import dedup, naming
from custmdm.core.access import facts_of
from custmdm.core.audit import audit_row, write_audit
from custmdm.core.coding import (
    StaleRule,
    cached_rules,
    current_rules,
    issue_code,
    peek_counter,
    refresh_rules,
    rule_fitting,
    rule_versions,
    take_sequence,
)
from custmdm.core.context import Context
from custmdm.core.customers import (
    CustomerDraft,
    CustomerRecord,
    ValidCustomer,
    load_records,
    new_record,
    validate_draft,
)
from custmdm.domain.codes import CodeContext
from custmdm.domain.customer import CodeStatus, Kind, Lifecycle, parse_choice
from custmdm.domain.identifiers import Identifier
from custmdm.domain.matching import Action, blocking_keys
from custmdm.domain.names import NameKind
from custmdm.domain.rules import CodingRule, choose_rule
from custmdm.errors import (
    Conflict,
    CustMDMError,
    InvalidChecksum,
    NotFound,
    RuleViolation,
    StaleVersion,
    ValidationError,
)
from custmdm.security.access import Permission
from custmdm.security.crypto import mask
from custmdm.security.fields import PERSONAL_SCHEMES
from custmdm.store.tables import (
    CODE_COLUMNS,
    CUSTOMER_COLUMNS,
    NAME_ROW_COLUMNS,
    customer,
    customer_code,
    identifier,
)

# -- register one ------------------------------------------------------------------------


def register_customer(
    ctx: Context, draft: CustomerDraft, *, override_reason: str | None = None,
    idempotency_key: str | None = None,
) -> CustomerRecord:
    """Register one customer and give it its code; all or nothing.

    The duplicate check runs first (core.dedup): a customer that matches an existing
    one above the block threshold is refused, above the warn threshold it needs
    ``override_reason`` (recorded in the audit entry), and above a link threshold the
    existing customer is returned instead (``linked`` set), nothing registered.
    ``idempotency_key`` is recorded in the audit entry, which commits with the
    customer (see core.idempotency).
    """
    valid = validate_draft(draft, default_owner=ctx.actor.name)
    ctx.require(Permission.CREATE, valid)
    naming.check(ctx, valid.kind.value, NameKind.LEGAL.value, valid.legal_name)
    for kind, text, _ in valid.other_names:
        naming.check(ctx, valid.kind.value, kind, text)
    checked, override = dedup.guard(ctx, valid, override_reason)
    if checked.action is Action.LINK:
        return _link(ctx, valid, checked.deciding)
    recorded: dict[str, Any] = {}
    if override is not None:
        recorded["duplicate_override"] = override
    if idempotency_key is not None:
        recorded["idempotency_key"] = idempotency_key
    code_ctx = valid.code_context(ctx.today())
    try:
        rule = choose_rule(cached_rules(ctx), code_ctx)
        return _register_one(ctx, valid, code_ctx, rule, recorded)
    except (StaleRule, RuleViolation):
        # Another process may have changed or added rules since this one loaded them:
        # choose again from fresh rules (a real "no rule applies" is raised again).
        rule = choose_rule(refresh_rules(ctx), code_ctx)
        return _register_one(ctx, valid, code_ctx, rule, recorded)


def _link(ctx: Context, valid: ValidCustomer, existing: Any) -> CustomerRecord:
    """A registration the match rules call certain: the existing customer, audited.
    One the actor may not read is not shown: the registration is refused, naming it."""
    record = get_customer_by_id(ctx, existing.customer_id)
    if not ctx.authorization.allows(Permission.READ, facts_of(record)):
        raise Conflict(f"this customer is registered already as {existing.code}, outside "
                       "what you may see; ask its owner or a data steward")
    with ctx.store.write() as conn:
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "customer.register.linked", "customer", existing.customer_id,
            {"code": existing.code, **registration_detail(valid),
             "score": round(existing.probability, 4), "why": list(existing.explanation)},
            ctx.now())])
    return replace(record, linked=True)


def _register_one(
    ctx: Context, valid: ValidCustomer, code_ctx: CodeContext, rule: CodingRule,
    recorded: dict[str, Any] | None = None,
) -> CustomerRecord:
    now = ctx.now()
    values = dict(zip(CUSTOMER_COLUMNS, valid.values(now), strict=True))
    fields = ctx.store.fields
    idents = [fields.identifier_row(i.scheme, i.value) for i in valid.identifiers]
    names = [{**dict(zip(NAME_ROW_COLUMNS, row, strict=True)),
              "valid_from": None, "valid_to": None, "source": "registration"}
             for row in valid.name_rows()]
    # Contacts and the match keys the duplicate check finds this customer by, personal
    # data sealed and blind-indexed (security.fields).
    more: dict[str, Any] = {"contacts": [fields.contact_row(c) for c in valid.contacts],
                            "keys": fields.match_keys(blocking_keys(valid.match_record()))}
    if ctx.store.reserves_separately and not rule.gapless:
        # Gap-allowed on PostgreSQL: a code reserved ahead, claimed in one statement.
        reservation = ctx.reservations.take(ctx, rule, code_ctx)
        audit = registration_audit(ctx, 0, reservation.value, valid, now, recorded)
        try:
            with identifiers_guarded(ctx, valid.identifiers):
                customer_id = ctx.writer.claim_and_register(
                    reservation.code_id, rule.id or 0, values, idents, names, audit, **more)
        except BaseException:
            ctx.reservations.give_back(reservation)  # the statement failed as a whole
            raise
        if customer_id is None:  # the rule version changed: void this series' codes
            ctx.reservations.give_back(reservation)
            ctx.reservations.release(ctx, "its coding rule was changed", rule.id)
            raise StaleRule(rule.name)
        code = reservation.value
    else:
        registered = None
        if rule.gapless and ctx.writer.registers_on_counter:
            registered = _register_on_counter(ctx, valid, code_ctx, rule, values, idents,
                                              names, more, now, recorded)
        if registered is not None:
            customer_id, code = registered
        else:
            customer_id, code = _register_in_transaction(ctx, valid, code_ctx, rule, values,
                                                         idents, names, more, now,
                                                         recorded)
    return new_record(customer_id, valid, code, rule, now)


def _register_in_transaction(
    ctx: Context, valid: ValidCustomer, code_ctx: CodeContext, rule: CodingRule,
    values: dict[str, Any], idents: list[dict[str, Any]], names: list[dict[str, Any]],
    more: dict[str, Any], now: datetime, recorded: dict[str, Any] | None,
) -> tuple[int, str]:
    """Customer, identifiers, then (last, so the counter lock is short) the number,
    the code and the audit entry, in one transaction."""
    with identifiers_guarded(ctx, valid.identifiers), ctx.store.write() as conn:
        customer_id = ctx.writer.insert_customer(conn, values, idents, names, **more)
        scope_key = rule.counter_key(code_ctx)
        seq = take_sequence(ctx.store, conn, rule, scope_key)
        code = rule.pattern.render(code_ctx, seq)
        code_row = {"value": code, "customer_id": customer_id, "rule_id": rule.id,
                    "scope_key": scope_key, "seq": seq,
                    "status": CodeStatus.ACTIVE.value, "issued_at": now}
        audit = registration_audit(ctx, customer_id, code, valid, now, recorded)
        if not ctx.writer.insert_code_and_audit(conn, code_row, audit):
            raise StaleRule(rule.name)
    return customer_id, code


#: How many codes a gapless registration renders ahead (see _register_on_counter).
SPECULATION_WINDOW = 24


def _register_on_counter(
    ctx: Context, valid: ValidCustomer, code_ctx: CodeContext, rule: CodingRule,
    values: dict[str, Any], idents: list[dict[str, Any]], names: list[dict[str, Any]],
    more: dict[str, Any], now: datetime, recorded: dict[str, Any] | None,
) -> tuple[int, str] | None:
    """A gapless registration in one statement, the counter locked only inside it.

    The check character is computed in Python, so the codes for the next few numbers
    are rendered ahead, starting where this process last saw the counter; the
    statement picks the one for the number it takes. None (and nothing written) when
    the number falls outside them or the rule changed: the caller then takes the
    ordinary path.
    """
    scope_key = rule.counter_key(code_ctx)
    key = (rule.name, scope_key)
    base = ctx.counter_hints.get(key)
    if base is None:
        with ctx.store.autocommit() as conn:
            base = peek_counter(conn, rule, scope_key)
    last = min(base + SPECULATION_WINDOW - 1, rule.pattern.max_seq)
    if base > last:
        return None  # the counter is full: the ordinary path says so
    candidates = _codes_ahead(ctx, rule, code_ctx, base, last)
    audit = registration_audit(ctx, 0, None, valid, now, recorded)  # SQL adds the code
    counter = {"rule_name": rule.name, "scope_key": scope_key, "rule_id": rule.id,
               "issued_at": now}
    with identifiers_guarded(ctx, valid.identifiers):
        result = ctx.writer.register_on_counter(counter, candidates, base, values, idents,
                                                names, audit, **more)
    if result is None:
        ctx.counter_hints.pop(key, None)
        return None
    customer_id, seq = result
    ctx.counter_hints[key] = seq + 1
    return customer_id, candidates[seq - base]


def _codes_ahead(
    ctx: Context, rule: CodingRule, code_ctx: CodeContext, first: int, last: int
) -> list[str]:
    """The codes for numbers ``first`` … ``last`` of this customer's series, reusing
    those rendered for the previous registration (the window slides a little each
    time, and check characters cost more than the rest of the statement's input)."""
    key = (rule.id or 0, rule.pattern.series_key(code_ctx))
    known_from, known = ctx.codes_ahead.get(key, (first, []))
    codes = known[first - known_from:] if known_from <= first else []
    if not codes:
        codes = [rule.pattern.render(code_ctx, first)]
    seed = codes[0]
    codes = codes[: last - first + 1]
    codes.extend(rule.pattern.with_seq(seed, n) for n in range(first + len(codes), last + 1))
    if len(ctx.codes_ahead) >= 1024:  # many series (say, one per county): start over
        ctx.codes_ahead.clear()
    ctx.codes_ahead[key] = (first, codes)
    return codes


def registration_audit(
    ctx: Context, customer_id: int, code: str | None, valid: ValidCustomer, now: datetime,
    recorded: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The audit entry of a registration; without ``code`` when SQL adds it.
    ``recorded``: more it records (an override of the duplicate check with its reason
    and candidates, the client's idempotency key)."""
    detail = {**registration_detail(valid), **(recorded or {})}
    if code is not None:
        detail = {"code": code, **detail}
    return audit_row(ctx.actor.name, "customer.register", "customer", customer_id, detail, now)


def registration_detail(valid: ValidCustomer) -> dict[str, Any]:
    """What the audit trail records of a registration: an individual's name is
    personal data, which an erasure could not take out of the append-only trail, so
    it is not recorded (the code and the customer's id say who it was)."""
    detail: dict[str, Any] = {"kind": valid.kind.value, "legal_name": valid.legal_name,
                              "region": valid.region or valid.country}
    if valid.kind is Kind.INDIVIDUAL:
        del detail["legal_name"]
    return detail


@contextmanager
def identifiers_guarded(ctx: Context, idents: Sequence[Identifier]) -> Iterator[None]:
    """Turn a violation of "one active customer per identifier" into a Conflict that
    names the holder.

    The partial unique index is the guard (it also settles concurrent races); the
    holder is looked up only after the failed transaction has rolled back.
    """
    try:
        yield
    except IntegrityError as error:
        if "identifier" not in ctx.store.violated_constraint(error):
            raise
        raise held_identifier(ctx, idents) or Conflict(
            "an identifier was taken by another registration at the same moment; look "
            "the customer up and try again") from error


def held_identifier(ctx: Context, idents: Sequence[Identifier], *,
                    hint: str = "look that customer up instead of registering it again",
                    ) -> Conflict | None:
    """The conflict of taking one of ``idents``, naming the active customer that holds
    it, and what to do (``hint``); None when none does."""
    fields = ctx.store.fields
    with ctx.store.read() as conn:
        for start in range(0, len(idents), 500):
            given = {(i.scheme, fields.identifier_value(i.scheme, i.value)): i.value
                     for i in idents[start:start + 500]}
            pairs = list(given)
            holder = conn.execute(
                select(identifier.c.scheme, identifier.c.value,
                       customer_code.c.value.label("code"), customer.c.legal_name)
                .join(customer, customer.c.id == identifier.c.customer_id)
                .join(customer_code, and_(customer_code.c.customer_id == customer.c.id,
                                          customer_code.c.status == CodeStatus.ACTIVE.value))
                .where(identifier.c.active,
                       tuple_(identifier.c.scheme, identifier.c.value).in_(pairs))
            ).first()
            if holder is not None:
                value = given[holder.scheme, holder.value]
                if holder.scheme in PERSONAL_SCHEMES:
                    value = mask(holder.scheme, value)
                return Conflict(
                    f"identifier {holder.scheme} {value} already belongs to customer "
                    f"{holder.code} ({holder.legal_name}); an identifier belongs to one "
                    f"active customer — {hint}"
                )
    return None


# -- find --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """A customer found by one of its codes, and what that code is now."""

    customer: CustomerRecord
    requested_code: str
    requested_status: str

    @property
    def is_current(self) -> bool:
        return self.requested_status == CodeStatus.ACTIVE.value

    def to_dict(self) -> dict[str, Any]:
        data = self.customer.to_dict()
        data["requested_code"] = self.requested_code
        data["requested_code_status"] = self.requested_status
        data["current_code"] = self.customer.code
        return data


def find_by_code(ctx: Context, code: str) -> Resolution:
    """Resolve any code the customer ever had; a mistyped check character is an error."""
    value = code.strip()
    if not value:
        raise ValidationError("give a customer code")
    with ctx.store.read() as conn:
        for candidate in dict.fromkeys([value, value.upper()]):
            row = conn.execute(
                select(customer_code.c.customer_id, customer_code.c.status).where(
                    customer_code.c.value == candidate
                )
            ).first()
            if row is not None and row.customer_id is not None:
                record = load_records(conn, [row.customer_id], ctx.store.fields)[0]
                ctx.require(Permission.READ, record)
                return Resolution(record, candidate, row.status)
            if row is not None:
                raise NotFound(f"code {candidate} was {row.status} and never belonged to a "
                               "customer")
        _explain_unknown_code(list(rule_versions(ctx, conn).values()), value.upper())
    raise NotFound(f"no customer has code {value}")


def unmask(ctx: Context, code: str, reason: str) -> Resolution:
    """A customer with its personal data shown as it is: for those with the
    see_sensitive permission on it, and written to the audit trail with the reason."""
    reason = require_reason(reason)
    found = find_by_code(ctx, code)
    record = found.customer
    ctx.require(Permission.SEE_SENSITIVE, record)
    with ctx.store.write() as conn:
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "customer.unmask", "customer", record.id,
            {"code": record.code, "fields": ["identifiers", "contacts"], "reason": reason},
            ctx.now())])
    return replace(found, customer=replace(record, unmasked=True))


def _explain_unknown_code(rules: Sequence[CodingRule], value: str) -> None:
    """Raise InvalidChecksum when ``value`` has a rule's shape but a wrong check character."""
    try:
        rule_fitting([r for r in rules if r.pattern.check is not None], value)
    except InvalidChecksum:
        raise
    except CustMDMError:
        return


def get_customer_by_id(ctx: Context, customer_id: int) -> CustomerRecord:
    """A customer by internal id."""
    with ctx.store.read() as conn:
        records = load_records(conn, [customer_id], ctx.store.fields)
    if not records:
        raise NotFound(f"no customer with id {customer_id}")
    return records[0]


@dataclass(frozen=True)
class CustomerFilter:
    """Filters for listing customers; all optional, combined with AND."""

    kind: str | None = None
    region: str | None = None  # GB/T 2260 prefix digits or ISO country code
    industry: str | None = None  # section letter or division prefix
    status: str | None = None
    owner: str | None = None
    limit: int = 50
    offset: int = 0


def list_customers(ctx: Context, filters: CustomerFilter) -> list[CustomerRecord]:
    """Customers matching the filters, oldest first, a page at a time; merged ones only
    when the status filter asks for them."""
    if not 1 <= filters.limit <= 10_000:
        raise ValidationError("limit must be between 1 and 10000")
    query = select(customer.c.id).order_by(customer.c.id)
    if filters.kind:
        query = query.where(customer.c.kind == parse_choice(Kind, filters.kind, "kind").value)
    if filters.region:
        region = filters.region.strip().upper()
        if region.isdigit():
            while len(region) > 2 and region.endswith("00"):  # 440000 is province 44
                region = region[:-2]
            query = query.where(customer.c.region.startswith(region))
        else:
            query = query.where(customer.c.country == region)
    if filters.industry:
        ind = filters.industry.strip().upper()
        query = query.where(customer.c.industry.startswith(ind) if ind.isdigit()
                            else customer.c.industry_section == ind)
    if filters.status:
        status = parse_choice(Lifecycle, filters.status, "status")
        query = query.where(customer.c.lifecycle == status.value)
    else:  # merged customers live on in their survivor; list them only when asked
        query = query.where(customer.c.lifecycle != Lifecycle.MERGED.value)
    if filters.owner:
        query = query.where(customer.c.owner == filters.owner)
    ctx.require_user()
    in_scope = ctx.scope_filter(Permission.READ)
    if in_scope is not None:  # only the customers the actor may read, in SQL
        query = query.where(in_scope)
    with ctx.store.read() as conn:
        ids = list(conn.execute(query.limit(filters.limit).offset(filters.offset)).scalars())
        return load_records(conn, ids, ctx.store.fields)


# -- change of code and retirement ----------------------------------------------------


def change_code(
    ctx: Context, code: str, reason: str, *, rule_name: str | None = None,
    new_value: str | None = None, expected_version: int | None = None,
) -> Resolution:
    """Give a customer a new code; the old one stays as ``superseded`` and still resolves.

    Either ``rule_name`` (the rule's next code) or ``new_value`` (an explicit code that
    fits a current rule and carries the right check character).
    """
    if (rule_name is None) == (new_value is None):
        raise ValidationError("give either a rule (--rule) or an explicit code (--to)")
    reason = require_reason(reason)
    found = find_by_code(ctx, code)
    record = found.customer
    ctx.require(Permission.CHANGE_CODE, record)
    require_version(record, expected_version)
    if record.status in (Lifecycle.RETIRED.value, Lifecycle.MERGED.value):
        raise Conflict(f"customer {record.code} is {record.status}; its code cannot change")
    ctx.approvals.check(ctx, "customer.change_code",
                        {"code": record.code, "rule": rule_name, "to": new_value,
                         "reason": reason}, [record])
    code_ctx = record.code_context(ctx.today())
    with ctx.store.write() as conn:
        now = ctx.now()
        bump_version(conn, record, now)
        old = _supersede_active_code(conn, record.id, reason, now)
        rules = current_rules(ctx, conn, lock=True)
        skipped: list[str] = []
        if new_value is not None:
            value, skipped = _assign_explicit_code(ctx, conn, rules, code_ctx, record.id,
                                                   new_value.strip().upper(), now)
        else:
            rule = next((r for r in rules if r.name == rule_name), None)
            if rule is None:
                raise NotFound(f"no coding rule named {rule_name!r}")
            if not rule.conditions.matches(code_ctx):
                raise RuleViolation(
                    f"rule {rule.name!r} applies to {rule.conditions.describe()}, not to "
                    f"customer {record.code} (kind={record.kind} "
                    f"region={record.region or record.country})"
                )
            _, value = issue_code(ctx, conn, rule, code_ctx, record.id)
        detail: dict[str, Any] = {"from": old, "to": value, "reason": reason}
        if skipped:
            detail["voided"] = skipped
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "customer.change_code",
                                                "customer", record.id, detail, now)])
    return find_by_code(ctx, value)


def changeable(ctx: Context, code: str, what: str,
               permission: Permission = Permission.UPDATE) -> CustomerRecord:
    """The customer holding ``code``, if the actor has ``permission`` on it; refused if
    retired or merged: its ``what`` (names, identifiers) cannot change any more."""
    record = find_by_code(ctx, code).customer
    ctx.require(permission, record)
    if record.status in (Lifecycle.RETIRED.value, Lifecycle.MERGED.value):
        raise Conflict(f"customer {record.code} is {record.status}; its {what} cannot "
                       "change")
    return record


def require_version(record: CustomerRecord, expected: int | None) -> None:
    """Refuse a change made against another version than the customer's current one
    (None: the caller did not say which it read)."""
    if expected is not None and expected != record.version:
        raise StaleVersion(f"customer {record.code} is at version {record.version}, not "
                           f"{expected}: it changed since it was read; read it again and "
                           "redo the change")


def require_reason(reason: str) -> str:
    """The reason given for a governed change, stripped; an error when there is none."""
    if not reason or not reason.strip():
        raise ValidationError("give a reason (--reason); it goes into the audit trail")
    return reason.strip()


def bump_version(
    conn: Connection, record: CustomerRecord, now: datetime, **changes: Any
) -> None:
    """Move the customer to its next version (with ``changes``), provided nobody else
    did since ``record`` was read: the optimistic lock every change takes."""
    bumped = conn.execute(
        update(customer)
        .where(customer.c.id == record.id, customer.c.version == record.version)
        .values(version=record.version + 1, updated_at=now, **changes)
    ).rowcount
    if bumped != 1:
        raise StaleVersion(f"customer {record.code} was changed meanwhile (it is no longer "
                           f"at version {record.version}); read it again and retry")


def _supersede_active_code(
    conn: Connection, customer_id: int, reason: str, now: datetime
) -> str:
    old = conn.execute(
        update(customer_code)
        .where(customer_code.c.customer_id == customer_id,
               customer_code.c.status == CodeStatus.ACTIVE.value)
        .values(status=CodeStatus.SUPERSEDED.value, ended_at=now, reason=reason)
        .returning(customer_code.c.value)
    ).scalar_one()
    return str(old)


def _assign_explicit_code(
    ctx: Context, conn: Connection, rules: Sequence[CodingRule], code_ctx: CodeContext,
    customer_id: int, value: str, now: datetime,
) -> tuple[str, list[str]]:
    """Record an explicit code that a current rule could give this customer; keep that
    rule's counter above it. Returns the code and the numbers it skipped (voided)."""
    applicable = [r for r in rules if r.conditions.matches(code_ctx)]
    try:
        rule = rule_fitting(applicable, value)
    except RuleViolation:
        other = next((r for r in rules if r.pattern.fits(value)), None)
        if other is None:
            raise
        raise RuleViolation(
            f"code {value} fits rule {other.name!r}, which applies to "
            f"{other.conditions.describe()}, not to this customer"
        ) from None
    if not rule.fits_narrowed(value):
        raise RuleViolation(
            f"rule {rule.name!r} gives this customer codes like "
            f"{rule.pattern.render(code_ctx, 1)}; {value} is not one of them"
        )
    pattern = rule.pattern
    seq = pattern.seq_of(value)
    key = pattern.scope_of(value) if rule.counter_scope == "prefix" else ""
    next_value = take_sequence(ctx.store, conn, rule, key, 0)  # locks the counter row
    # Checked under the counter lock: two changes to the same code cannot both pass.
    existing = conn.execute(
        select(customer_code.c.status).where(customer_code.c.value == value)
    ).scalar()
    if existing is not None:
        raise Conflict(f"code {value} was already issued (now {existing}); codes are never "
                       "reused")
    skipped: list[str] = []
    if seq >= next_value:
        if rule.gapless and seq != next_value:
            expected = pattern.with_seq(value, next_value)
            raise Conflict(
                f"rule {rule.name!r} is gapless: the next code in this series is {expected}, "
                f"not {value}"
            )
        if seq - next_value > 10_000:
            raise ValidationError(f"code {value} would skip {seq - next_value} numbers of "
                                  f"rule {rule.name!r}; choose a code closer to the counter")
        take_sequence(ctx.store, conn, rule, key, seq + 1 - next_value)
        skipped = [pattern.with_seq(value, s) for s in range(next_value, seq)]
        ctx.store.insert_many(conn, customer_code, (*CODE_COLUMNS, "ended_at", "reason"), [
            (v, None, rule.id, key, s, CodeStatus.VOID.value, now, now,
             f"skipped when {value} was assigned explicitly")
            for s, v in zip(range(next_value, seq), skipped, strict=True)
        ])
    ctx.store.insert_many(conn, customer_code, CODE_COLUMNS, [
        (value, customer_id, rule.id, key, seq, CodeStatus.ACTIVE.value, now)])
    return value, skipped


def retire_customer(ctx: Context, code: str, reason: str, *,
                    expected_version: int | None = None) -> CustomerRecord:
    """Retire a customer: its code stays reserved for it for ever and still resolves;
    its identifiers are released for a future customer. ``expected_version``: see
    :func:`require_version`."""
    reason = require_reason(reason)
    record = find_by_code(ctx, code).customer
    ctx.require(Permission.RETIRE, record)
    require_version(record, expected_version)
    if record.status == Lifecycle.RETIRED.value:
        raise Conflict(f"customer {record.code} is already retired")
    ctx.approvals.check(ctx, "customer.retire", {"code": record.code, "reason": reason},
                        [record])
    with ctx.store.write() as conn:
        now = ctx.now()
        bump_version(conn, record, now, lifecycle=Lifecycle.RETIRED.value)
        conn.execute(
            update(customer_code)
            .where(customer_code.c.customer_id == record.id,
                   customer_code.c.status == CodeStatus.ACTIVE.value)
            .values(status=CodeStatus.RETIRED.value, ended_at=now, reason=reason)
        )
        conn.execute(update(identifier).where(identifier.c.customer_id == record.id)
                     .values(active=False))
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "customer.retire", "customer",
                                     record.id, {"code": record.code, "reason": reason,
                                                 "previous_status": record.status}, now)])
    return get_customer_by_id(ctx, record.id)
