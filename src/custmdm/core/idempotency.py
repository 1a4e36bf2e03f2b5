"""Idempotent registration: a client that retries a create (after a timeout, a dropped
connection) with the same Idempotency-Key gets the customer its first request
registered, never a second customer.

How it holds together:

1. The key is taken first, in a transaction of its own: the primary key
   ``(actor, key)`` lets one request have it. The row remembers a fingerprint of the
   request (the same key with another request is refused) and the audit chain's
   length.
2. The registration records the key in its audit entry, which commits with the
   customer in one transaction on every path (PostgreSQL's single statements too).
3. The row is finished with the customer's id.

A retry finds the finished row and returns that customer. A retry that comes while the
first request still runs waits for it (up to WAIT_FOR_FIRST seconds). If the first
request died between 2 and 3, the retry finds its registration in the audit entries
after the row's chain length and finishes the row. If it died before registering, the
key is taken over once it is STALE_AFTER seconds old. A request that fails (invalid,
a duplicate) gives the key back, so the corrected retry can use it. Each request holds
the key under a claim of its own: only the holder finishes the row or gives it back,
so a request taken over for dead cannot undo its successor's work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, Connection, and_, delete, select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from custmdm.core.context import Context
from custmdm.core.customers import CustomerDraft, CustomerRecord
from custmdm.core.registry import get_customer_by_id, register_customer
from custmdm.errors import Conflict, ValidationError
from custmdm.security.audit_chain import canonical_json
from custmdm.store.audit import chain_head, utc
from custmdm.store.tables import audit_entry, idempotency_key

#: Seconds after which a key whose first request never registered is taken over: far
#: longer than a registration can take (lock waits included), so a slow first request
#: is never taken for a dead one.
STALE_AFTER = 900.0
#: Seconds a retry waits for the first request with its key to finish.
WAIT_FOR_FIRST = 10.0
MAX_KEY_LENGTH = 200
#: How long a key is remembered: a retry within a day returns the first customer; the
#: same key used again later is a new request (as payment APIs do).
KEEP_FOR = timedelta(hours=24)
#: Seconds between two sweeps of expired keys in one process, and the most one forgets.
SWEEP_EVERY = 60.0
SWEEP_BATCH = 1_000
_sweeping = threading.Lock()
_swept_at: dict[int, float] = {}  # id(store) → when
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Registered:
    """The customer a keyed registration made, and whether this was a replay."""

    customer: CustomerRecord
    replayed: bool


def register_idempotently(ctx: Context, draft: CustomerDraft, key: str, *,
                          override_reason: str | None = None) -> Registered:
    """Register ``draft`` once for ``key`` (see the module docstring)."""
    key = _checked(key)
    ctx.require_user()
    fingerprint = hashlib.sha256(canonical_json({
        "draft": dataclasses.asdict(draft), "override_reason": override_reason,
    }).encode()).hexdigest()
    claim = secrets.token_hex(16)
    deadline = time.monotonic() + WAIT_FOR_FIRST
    while True:
        done = _claim(ctx, key, fingerprint, claim, waiting=time.monotonic() < deadline)
        if done is None:
            break  # the key is ours: register
        if done > 0:
            return Registered(get_customer_by_id(ctx, done), replayed=True)
        time.sleep(0.05)  # the first request with this key is still running
    try:
        record = register_customer(ctx, draft, override_reason=override_reason,
                                   idempotency_key=key)
    except BaseException:
        _give_back(ctx, key, claim)
        raise
    with ctx.store.write() as conn:
        conn.execute(update(idempotency_key).where(_ours(ctx, key, claim))
                     .values(customer_id=record.id))
    try:
        _sweep(ctx)
    except SQLAlchemyError:  # housekeeping: the next sweep tries again
        _log.warning("forgetting expired idempotency keys failed", exc_info=True)
    return Registered(record, replayed=False)


def _sweep(ctx: Context) -> int:
    """Forget keys older than KEEP_FOR, at most SWEEP_BATCH of them, at most once a
    minute per store (every register of a server shares it), in a short transaction
    of its own after the registration, through the index on their age. Rows another
    sweep holds are skipped (PostgreSQL), not waited for. Returns how many."""
    now = time.monotonic()
    with _sweeping:
        if now - _swept_at.get(id(ctx.store), float("-inf")) < SWEEP_EVERY:
            return 0
        _swept_at[id(ctx.store)] = now
    expired = (select(idempotency_key.c.actor, idempotency_key.c.key)
               .where(idempotency_key.c.created_at < ctx.now() - KEEP_FOR)
               .limit(SWEEP_BATCH).with_for_update(skip_locked=True))
    with ctx.store.write() as conn:
        rows = [tuple(row) for row in conn.execute(expired)]
        if rows:
            conn.execute(delete(idempotency_key).where(
                tuple_(idempotency_key.c.actor, idempotency_key.c.key).in_(rows)))
    return len(rows)


def _give_back(ctx: Context, key: str, claim: str) -> None:
    """Free the key for a corrected retry, unless the registration committed after all
    (the connection broke during COMMIT): then finish the row with it."""
    with ctx.store.write() as conn:
        row = conn.execute(select(idempotency_key.c.after_seq)
                           .where(_ours(ctx, key, claim))).first()
        if row is None:
            return  # taken over meanwhile: not ours to give back
        found = _registered_with(conn, ctx.actor.name, key, int(row.after_seq))
        if found is not None:
            conn.execute(update(idempotency_key).where(_ours(ctx, key, claim))
                         .values(customer_id=found))
        else:
            conn.execute(delete(idempotency_key).where(_ours(ctx, key, claim)))


def _checked(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationError(f"an Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII "
                              "characters, such as a UUID")
    return key


def _this(ctx: Context, key: str) -> ColumnElement[bool]:
    return and_(idempotency_key.c.actor == ctx.actor.name, idempotency_key.c.key == key)


def _ours(ctx: Context, key: str, claim: str) -> ColumnElement[bool]:
    """The key's row while this request holds it, not yet finished."""
    return and_(_this(ctx, key), idempotency_key.c.claim == claim,
                idempotency_key.c.customer_id.is_(None))


def _claim(ctx: Context, key: str, fingerprint: str, claim: str, *,
           waiting: bool) -> int | None:
    """None: the key is now ours. A customer id: the key's request registered it. 0:
    the first request still runs (Conflict instead once ``waiting`` is over)."""
    now = ctx.now()
    with ctx.store.write() as conn:
        head = chain_head(conn)
        seq = head[0] if head else 0
        taken = conn.execute(ctx.store.dialect_insert(idempotency_key).values(
            actor=ctx.actor.name, key=key, fingerprint=fingerprint, after_seq=seq,
            created_at=now, claim=claim).on_conflict_do_nothing()
            .returning(idempotency_key.c.key)).first()
        if taken is not None:
            return None
        row = conn.execute(select(idempotency_key).where(_this(ctx, key))
                           .with_for_update()).first()
        if row is None:
            return 0  # given back between the two statements: try again
        if row.fingerprint != fingerprint:
            raise ValidationError(f"Idempotency-Key {key!r} was used for another request; "
                                  "a new customer needs a new key")
        if row.customer_id is not None:
            return int(row.customer_id)
        found = _registered_with(conn, ctx.actor.name, key, int(row.after_seq))
        if found is not None:  # the first request registered, then died
            conn.execute(update(idempotency_key).where(_this(ctx, key))
                         .values(customer_id=found))
            return found
        if now - utc(row.created_at) > timedelta(seconds=STALE_AFTER):  # it died before registering
            conn.execute(update(idempotency_key).where(_this(ctx, key))
                         .values(after_seq=seq, created_at=now, claim=claim))
            return None
    if not waiting:
        raise Conflict(f"a request with Idempotency-Key {key!r} is still being processed; "
                       "retry in a moment")
    return 0


def _registered_with(conn: Connection, actor: str, key: str, after_seq: int) -> int | None:
    """The customer a registration by ``actor`` with ``key`` made, looking only at the
    audit entries written since the key was taken."""
    for entity_id, detail in conn.execute(
            select(audit_entry.c.entity_id, audit_entry.c.detail).where(
                audit_entry.c.seq > after_seq, audit_entry.c.actor == actor,
                audit_entry.c.action == "customer.register")):
        if isinstance(detail, dict) and detail.get("idempotency_key") == key:
            return int(entity_id)
    return None
