"""Registering many customers at once: one transaction per batch.

Validation can run in helper processes (:mod:`custmdm.core.parallel`); codes for a
whole batch come from one counter statement, and rows go in with the driver's
executemany (:meth:`custmdm.store.database.Store.insert_many`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy import Connection

from custmdm.core.audit import write_audit
from custmdm.core.coding import current_rules, take_sequences
from custmdm.core.context import Context
from custmdm.core.customers import CustomerDraft, ValidCustomer, validate_draft
from custmdm.core.parallel import ordered_map
from custmdm.core.registry import identifiers_guarded, registration_audit
from custmdm.domain.codes import CodeContext
from custmdm.domain.customer import CodeStatus
from custmdm.domain.identifiers import Identifier
from custmdm.domain.rules import CodingRule, choose_rule
from custmdm.errors import Conflict, ValidationError
from custmdm.store.tables import CUSTOMER_COLUMNS, customer, customer_code, identifier


@dataclass(frozen=True)
class BulkResult:
    """What a bulk registration did."""

    registered: int
    first_code: str | None
    last_code: str | None


def register_customers(
    ctx: Context, drafts: Iterable[CustomerDraft], batch_size: int = 5000,
    validators: int = 0,
) -> BulkResult:
    """Register many customers fast; each batch is one transaction.

    A crash loses at most the batch in flight, never half a customer: counters, codes,
    identifiers and audit entries of a batch commit together. The first invalid draft
    stops the load with its position; earlier batches stay registered. With
    ``validators`` > 0, that many forked helper processes validate the next batches
    while this one writes (it paid off on the 2-vCPU benchmark machine only when
    generation moved there too, as in the demo loader; see docs/benchmarks.md).
    """
    total, first, last = 0, None, None
    owner = ctx.actor.name
    numbered = ((start, batch, owner) for start, batch in _numbered_batches(drafts, batch_size))
    for start, outcome in ordered_map(validate_batch, numbered, validators):
        if isinstance(outcome, ValidationError):
            raise outcome.suffixed(f" ({total} registered before it)")
        codes = register_valid_batch(ctx, outcome, start + 1)
        total += len(codes)
        first = first or codes[0]
        last = codes[-1]
    return BulkResult(total, first, last)


def validate_batch(
    task: tuple[int, Sequence[CustomerDraft], str],
) -> tuple[int, list[ValidCustomer] | ValidationError]:
    """Validate one numbered batch: its customers, or the first error with the draft's
    position in the whole load. Module-level, so helper processes can run it."""
    start, drafts, owner = task
    valid = []
    for index, draft in enumerate(drafts):
        try:
            valid.append(validate_draft(draft, default_owner=owner))
        except ValidationError as error:
            return start, error.prefixed(f"customer {start + index + 1}: ")
    return start, valid


def _numbered_batches(
    items: Iterable[CustomerDraft], size: int
) -> Iterator[tuple[int, list[CustomerDraft]]]:
    start = 0
    for batch in _batches(items, size):
        yield start, batch
        start += len(batch)


def _batches(items: Iterable[CustomerDraft], size: int) -> Iterator[list[CustomerDraft]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def register_valid_batch(
    ctx: Context, valid: Sequence[ValidCustomer], first_position: int = 1
) -> list[str]:
    """Register validated customers in one transaction; returns their codes in order.
    ``first_position`` numbers the customers in error messages."""
    if not valid:
        return []
    idents = [i for v in valid for i in v.identifiers]
    if len({(i.scheme, i.value) for i in idents}) != len(idents):
        raise Conflict("the same identifier appears twice in one bulk registration")
    today = ctx.today()
    contexts = [v.code_context(today) for v in valid]
    with identifiers_guarded(ctx, idents), ctx.store.write() as conn:
        now = ctx.now()
        ids = _insert_customers(ctx, conn, valid, now)
        _insert_identifiers(ctx, conn, zip(ids, (v.identifiers for v in valid), strict=True), now)
        codes = _allocate_batch(ctx, conn, contexts, first_position)
        active = CodeStatus.ACTIVE.value
        ctx.store.insert_many(
            conn, customer_code,
            ("value", "customer_id", "rule_id", "scope_key", "seq", "status", "issued_at"),
            [(code, cid, rule.id, key, seq, active, now)
             for cid, (code, rule, key, seq) in zip(ids, codes, strict=True)],
        )
        write_audit(ctx.store, conn, (
            registration_audit(ctx, cid, code[0], v, now)
            for cid, code, v in zip(ids, codes, valid, strict=True)
        ))
    return [c[0] for c in codes]


def _allocate_batch(
    ctx: Context, conn: Connection, contexts: Sequence[CodeContext], first_position: int
) -> list[tuple[str, CodingRule, str, int]]:
    """Codes for a batch: one counter statement for all (rule, scope) pairs, inside the
    batch's transaction (so even gap-allowed rules leave no gap in bulk)."""
    rules = current_rules(ctx, conn, lock=True)
    chosen, keys = [], []
    for index, code_ctx in enumerate(contexts):
        try:
            rule = choose_rule(rules, code_ctx)
            keys.append(rule.counter_key(code_ctx))
        except ValidationError as error:
            raise error.prefixed(f"customer {first_position + index}: ") from None
        chosen.append(rule)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, (rule, key) in enumerate(zip(chosen, keys, strict=True)):
        groups[(rule.name, key)].append(index)
    requests = [(chosen[m[0]], key, len(m)) for (_, key), m in groups.items()]
    firsts = take_sequences(ctx.store, conn, requests)
    seqs = [0] * len(contexts)
    for first, members in zip(firsts, groups.values(), strict=True):
        for offset, index in enumerate(members):
            seqs[index] = first + offset
    return [
        (rule.pattern.render(c, seq), rule, key, seq)
        for rule, c, key, seq in zip(chosen, contexts, keys, seqs, strict=True)
    ]


def _insert_customers(
    ctx: Context, conn: Connection, valid: Sequence[ValidCustomer], now: datetime
) -> list[int]:
    ids = ctx.store.reserve_ids(conn, customer, len(valid))
    ctx.store.insert_many(conn, customer, ("id", *CUSTOMER_COLUMNS),
                          [(i, *v.values(now)) for i, v in zip(ids, valid, strict=True)])
    return ids


def _insert_identifiers(
    ctx: Context, conn: Connection, owned: Iterable[tuple[int, Sequence[Identifier]]],
    now: datetime,
) -> None:
    ctx.store.insert_many(
        conn, identifier, ("customer_id", "scheme", "value", "active", "created_at"),
        [(cid, i.scheme, i.value, True, now) for cid, idents in owned for i in idents],
    )
