"""Registering many customers at once: one transaction per batch.

A batch goes through two steps. :func:`prepare_batch` does everything that does not
need the database (validation, choosing each customer's rule, the audit detail) and
turns the batch into plain rows; it can run in helper processes
(:mod:`custmdm.core.parallel`), and its result is cheap to send between processes.
:func:`write_batch` then takes the numbers for the whole batch in one counter
statement, finishes the codes and writes the rows with the driver's executemany
(:meth:`custmdm.store.database.Store.insert_many`), all in one transaction.
"""

from __future__ import annotations

import gc
import json
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from itertools import islice
from typing import Any, TypeVar

from custmdm.core.coding import (
    StaleRule,
    cached_rules,
    current_rules,
    refresh_rules,
    take_sequences,
)
from custmdm.core.context import Context
from custmdm.core.customers import CustomerDraft, ValidCustomer, validate_draft
from custmdm.core.naming import cached_naming_rules
from custmdm.core.parallel import ordered_map
from custmdm.core.registry import identifiers_guarded, registration_detail
from custmdm.domain.customer import CodeStatus
from custmdm.domain.identifiers import Identifier
from custmdm.domain.matching import blocking_keys
from custmdm.domain.names import NameKind
from custmdm.domain.naming import NamingRule, check_name
from custmdm.domain.rules import CodingRule, choose_rule
from custmdm.errors import Conflict, ValidationError
from custmdm.security.access import CustomerFacts, Permission
from custmdm.security.audit_chain import canonical_json
from custmdm.security.fields import SensitiveFields
from custmdm.store.audit import PendingEntry
from custmdm.store.tables import (
    CONTACT_COLUMNS,
    CUSTOMER_COLUMNS,
    NAME_ROW_COLUMNS,
    contact,
    customer,
    customer_code,
    customer_name,
    identifier,
    match_key,
)

T = TypeVar("T")


@dataclass(frozen=True)
class BulkResult:
    """What a bulk registration did."""

    registered: int
    first_code: str | None
    last_code: str | None


@dataclass(frozen=True)
class PreparedBatch:
    """Validated customers as plain rows, ready to be written.

    Codes are finished when the batch is written: ``templates`` holds each customer's
    code for sequence number 1, and the code it gets differs only in its number and
    check character.
    """

    #: The ids of the current rule versions the rules were chosen among.
    rule_ids: frozenset[int]
    #: Customer rows in CUSTOMER_COLUMNS order, without the two timestamps.
    customers: list[tuple[Any, ...]]
    #: (customer's index in the batch, scheme, value, value as stored, sealed value):
    #: see security.fields.
    identifiers: list[tuple[int, str, str, str, str | None]]
    #: Per customer: (rule id, counter key, code for sequence number 1).
    series: list[tuple[int, str, str]]
    #: Per customer: the audit detail as JSON text, without its leading "{".
    audit_details: list[str] = field(default_factory=list)
    #: Every name: (customer's index in the batch, then NAME_ROW_COLUMNS), legal
    #: names included.
    names: list[tuple[Any, ...]] = field(default_factory=list)
    #: ``(position, kind, value, canonical, blind)`` of every contact, sealed.
    contacts: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    #: ``(position, key)``: the blocking index (domain.matching.blocking_keys).
    keys: list[tuple[int, str]] = field(default_factory=list)


def prepare_batch(
    valid: Sequence[ValidCustomer], rules: Sequence[CodingRule], today: date,
    fields: SensitiveFields, first_position: int = 1, naming_rules: Sequence[NamingRule] = (),
) -> PreparedBatch:
    """Turn validated customers into rows, personal data sealed with ``fields``; choose
    each one's rule among ``rules``; check legal names against ``naming_rules``.
    ``first_position`` numbers the customers in error messages."""
    customers: list[tuple[Any, ...]] = []
    identifiers: list[tuple[int, str, str, str, str | None]] = []
    series: list[tuple[int, str, str]] = []
    details: list[str] = []
    names: list[tuple[Any, ...]] = []
    contacts: list[tuple[int, str, str, str, str]] = []
    keys: list[tuple[int, str]] = []
    for index, v in enumerate(valid):
        code_ctx = v.code_context(today)
        try:
            check_name(naming_rules, v.kind.value, NameKind.LEGAL.value, v.legal_name)
            for kind, text, _ in v.other_names:
                check_name(naming_rules, v.kind.value, kind, text)
            rule = choose_rule(rules, code_ctx)
        except ValidationError as error:
            raise error.prefixed(f"customer {first_position + index}: ") from None
        customers.append(v.values_before_timestamps())
        names.extend((index, *row) for row in v.name_rows())
        for i in v.identifiers:
            row = fields.identifier_row(i.scheme, i.value)
            identifiers.append((index, i.scheme, i.value, row["value"], row["sealed"]))
        for c in v.contacts:
            sealed = fields.contact_row(c)
            contacts.append((index, c.kind, sealed["value"], sealed["canonical"],
                             sealed["blind"]))
        keys.extend((index, key) for key in fields.match_keys(blocking_keys(v.match_record())))
        series.append((rule.id or 0, rule.counter_key(code_ctx), rule.pattern.render(code_ctx, 1)))
        # The detail of registration_audit; the code is put in front when it is known.
        details.append(canonical_json(registration_detail(v))[1:])
    return PreparedBatch(frozenset(r.id or 0 for r in rules), customers, identifiers, series,
                         details, names, contacts, keys)


def write_batch(ctx: Context, batch: PreparedBatch) -> list[str]:
    """Write a prepared batch in one transaction; returns the codes in order.

    Raises :class:`StaleRule` (and writes nothing) if the current rules are no longer
    those the batch was prepared with: prepare it again.
    """
    count = len(batch.customers)
    if not count:
        return []
    idents = [Identifier(scheme, value) for _, scheme, value, _, _ in batch.identifiers]
    if len({(i.scheme, i.value) for i in idents}) != len(idents):
        raise Conflict("the same identifier appears twice in one bulk registration")
    store = ctx.store
    with _collector_paused(), identifiers_guarded(ctx, idents), store.write() as conn:
        rules = {r.id or 0: r for r in current_rules(ctx, conn, lock=True)}
        if rules.keys() != batch.rule_ids:
            raise StaleRule("a coding rule changed while the batch was prepared")
        now = ctx.now()
        ids = store.reserve_ids(conn, customer, count)
        store.insert_many(conn, customer, ("id", *CUSTOMER_COLUMNS[:-2]),
                          [(i, *row) for i, row in zip(ids, batch.customers, strict=True)],
                          same={"created_at": now, "updated_at": now})
        store.insert_many(conn, identifier, ("customer_id", "scheme", "value", "sealed"),
                          [(ids[n], scheme, stored, sealed)
                           for n, scheme, _, stored, sealed in batch.identifiers],
                          same={"active": True, "created_at": now})
        store.insert_many(conn, customer_name, ("customer_id", *NAME_ROW_COLUMNS),
                          [(ids[n], *row) for n, *row in batch.names],
                          same={"source": "registration", "created_at": now})
        store.insert_many(conn, contact, CONTACT_COLUMNS[:-1],
                          [(ids[n], *row) for n, *row in batch.contacts],
                          same={"created_at": now})
        store.insert_many(conn, match_key, ("customer_id", "key"),
                          [(ids[n], key) for n, key in batch.keys])
        codes, seqs = _number(ctx, conn, rules, batch.series)
        store.insert_many(conn, customer_code, ("value", "customer_id", "rule_id", "scope_key",
                                                "seq"), [
            (code, cid, rule_id, key, seq)
            for code, cid, (rule_id, key, _), seq in zip(codes, ids, batch.series, seqs,
                                                          strict=True)
        ], same={"status": CodeStatus.ACTIVE.value, "issued_at": now})
        actor = ctx.actor.name
        store.queue_audit(conn, [
            PendingEntry(now, actor, "customer.register", "customer", str(cid),
                         f'{{"code":{json.dumps(code)},{detail}')
            for cid, code, detail in zip(ids, codes, batch.audit_details, strict=True)])
    return codes


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a batch is written.

    Writing a batch allocates several rows per customer and no reference cycles, yet
    each allocation burst triggers collections that walk every object the caller holds
    (say, a million drafts): measured at 8 % of a bulk load's time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _number(
    ctx: Context, conn: Any, rules: dict[int, CodingRule], series: Sequence[tuple[int, str, str]]
) -> tuple[list[str], list[int]]:
    """Take the numbers for a batch (one counter statement for all its counters, inside
    the batch's transaction, so even gap-allowed rules leave no gap in bulk) and
    finish the codes."""
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for index, (rule_id, key, _) in enumerate(series):
        groups[(rule_id, key)].append(index)
    firsts = take_sequences(ctx.store, conn,
                            [(rules[rule_id], key, len(m)) for (rule_id, key), m in groups.items()])
    codes, seqs = [""] * len(series), [0] * len(series)
    for first, ((rule_id, _), members) in zip(firsts, groups.items(), strict=True):
        with_seq = rules[rule_id].pattern.with_seq
        for offset, index in enumerate(members):
            seqs[index] = seq = first + offset
            codes[index] = with_seq(series[index][2], seq)
    return codes, seqs


def write_prepared(
    ctx: Context, batch: PreparedBatch, prepare_again: Callable[[list[CodingRule]], PreparedBatch],
) -> list[str]:
    """:func:`write_batch`, preparing the batch again here if the rules changed."""
    _require_create(ctx, batch)
    for _ in range(3):
        try:
            return write_batch(ctx, batch)
        except StaleRule:
            batch = prepare_again(refresh_rules(ctx))
    return write_batch(ctx, batch)


def _require_create(ctx: Context, batch: PreparedBatch) -> None:
    """Refuse the batch unless the actor may register every customer in it."""
    ctx.require_user()
    auth = ctx.authorization
    if auth.allows(Permission.CREATE):  # anywhere: nothing to look at per customer
        return
    for position, row in enumerate(batch.customers, 1):
        values = dict(zip(CUSTOMER_COLUMNS, row, strict=False))
        auth.require(Permission.CREATE, CustomerFacts(
            region=values["region"], country=values["country"], industry=values["industry"],
            industry_section=values["industry_section"], owner=values["owner"]),
            what=f"customer {position} of the batch ({values['legal_name']})")


# -- many drafts --------------------------------------------------------------------------


def register_customers(
    ctx: Context, drafts: Iterable[CustomerDraft], batch_size: int = 5000,
    validators: int = 0,
) -> BulkResult:
    """Register many customers fast; each batch is one transaction.

    A crash loses at most the batch in flight, never half a customer: counters, codes,
    identifiers and audit entries of a batch commit together. The first invalid draft
    stops the load with its position; earlier batches stay registered. With
    ``validators`` > 0, that many forked helper processes prepare the next batches
    while this one writes (see docs/benchmarks.md).
    """
    owner, today = ctx.actor.name, ctx.today()
    rules, names = cached_rules(ctx), tuple(cached_naming_rules(ctx))
    tasks = ((start, batch, owner, rules, today, names, ctx.store.fields)
             for start, batch in _numbered_batches(drafts, batch_size))
    total, first, last = 0, None, None
    for task, outcome in ordered_map_with_items(prepare_drafts, tasks, validators):
        if isinstance(outcome, ValidationError):
            raise outcome.suffixed(f" ({total} registered before it)")
        codes = write_prepared(ctx, outcome, partial(_prepare_drafts_again, task))
        total += len(codes)
        first = first or codes[0]
        last = codes[-1]
    return BulkResult(total, first, last)


DraftTask = tuple[int, Sequence[CustomerDraft], str, Sequence[CodingRule], date,
                  Sequence[NamingRule], SensitiveFields]


def prepare_drafts(task: DraftTask) -> PreparedBatch | ValidationError:
    """Validate and prepare one numbered batch of drafts; the first error instead, with
    the draft's position in the whole load. Module-level, so helpers can run it."""
    start, drafts, owner, rules, today, names, fields = task
    valid = []
    for index, draft in enumerate(drafts):
        try:
            valid.append(validate_draft(draft, default_owner=owner))
        except ValidationError as error:
            return error.prefixed(f"customer {start + index + 1}: ")
    try:
        return prepare_batch(valid, rules, today, fields, start + 1, names)
    except ValidationError as error:
        return error


def _prepare_drafts_again(task: DraftTask, rules: list[CodingRule]) -> PreparedBatch:
    start, drafts, owner, _, today, names, fields = task
    outcome = prepare_drafts((start, drafts, owner, rules, today, names, fields))
    if isinstance(outcome, ValidationError):
        raise outcome
    return outcome


def ordered_map_with_items(
    compute: Callable[[T], Any], items: Iterable[T], helpers: int | None
) -> Iterator[tuple[T, Any]]:
    """:func:`ordered_map`, yielding each item with its result."""
    taken: deque[T] = deque()

    def remembered() -> Iterator[T]:
        for item in items:
            taken.append(item)
            yield item

    for result in ordered_map(compute, remembered(), helpers):
        yield taken.popleft(), result


def _numbered_batches(
    items: Iterable[CustomerDraft], size: int
) -> Iterator[tuple[int, list[CustomerDraft]]]:
    iterator = iter(items)
    start = 0
    while batch := list(islice(iterator, size)):
        yield start, batch
        start += len(batch)


def register_valid_batch(ctx: Context, valid: Sequence[ValidCustomer]) -> list[str]:
    """Register validated customers in one transaction; returns their codes in order."""
    today, names = ctx.today(), tuple(cached_naming_rules(ctx))
    fields = ctx.store.fields
    return write_prepared(ctx, prepare_batch(valid, cached_rules(ctx), today, fields, 1, names),
                          partial(_prepare_valid_again, valid, today, names, fields))


def _prepare_valid_again(
    valid: Sequence[ValidCustomer], today: date, names: Sequence[NamingRule],
    fields: SensitiveFields, rules: list[CodingRule],
) -> PreparedBatch:
    return prepare_batch(valid, rules, today, fields, 1, names)
