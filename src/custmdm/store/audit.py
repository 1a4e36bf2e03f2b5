"""Appending to the audit chain, in Python and (for single-statement registrations on
PostgreSQL) in SQL; reading entries back.

Every entry is appended while the writer holds the chain head (``audit_chain``, one
row): on PostgreSQL its row lock, on SQLite the database's write lock. That puts all
entries in one order, the order of commit. The head is taken as the last lock of a
transaction (:meth:`Store.write` appends the entries a use case queued just before it
commits; the SQL form depends on every other part of its statement), so two writers
can never wait for each other in a cycle; the lock is held for the append and the
commit only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Connection,
    LargeBinary,
    String,
    Text,
    bindparam,
    cast,
    func,
    insert,
    select,
    true,
    update,
)

from custmdm.errors import ConfigurationError
from custmdm.security.audit_chain import (
    StoredEntry,
    canonical_json,
    entry_head,
    entry_mac,
    entry_message,
    hmac_pads,
)
from custmdm.security.keys import PURPOSES, Key, Keyring
from custmdm.store.tables import AUDIT_CHAIN_COLUMNS, audit_chain, audit_entry, register_key


class PendingEntry(NamedTuple):
    """An audit entry queued in a transaction; ``detail`` is its JSON text."""

    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: str


def pending_entry(row: Mapping[str, Any]) -> PendingEntry:
    """An audit row (``at, actor, action, entity, entity_id, detail``: a mapping) as the
    chain takes it: its detail as canonical JSON text."""
    return PendingEntry(row["at"], row["actor"], row["action"], row["entity"],
                        str(row["entity_id"]), canonical_json(row["detail"]))


def utc(at: datetime) -> datetime:
    """The time as stored: UTC (SQLite keeps no zone, so it must be UTC already)."""
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


def append_entries(conn: Connection, store: Any, entries: Sequence[PendingEntry]) -> None:
    """Chain and insert ``entries`` and move the chain head past them."""
    key = store.audit_key(conn)
    query = select(audit_chain.c.seq, audit_chain.c.mac).where(audit_chain.c.id == 1)
    if not store.is_sqlite:
        query = query.with_for_update()
    seq, previous = conn.execute(query).one()
    rows = []
    for entry in entries:
        seq += 1
        at = utc(entry.at)
        message = entry_message(previous, seq, entry.entity_id,
                                entry_head(at, entry.actor, entry.action, entry.entity),
                                entry.detail)
        previous = entry_mac(key.secret, message)
        rows.append((at, entry.actor, entry.action, entry.entity, entry.entity_id,
                     entry.detail, seq, previous, key.id))
    store.insert_many(conn, audit_entry, AUDIT_CHAIN_COLUMNS, rows, json_text=("detail",))
    conn.execute(update(audit_chain).where(audit_chain.c.id == 1)
                 .values(seq=seq, mac=previous))


def check_audit_key(store: Any, conn: Connection, keyring: Keyring, now: datetime) -> Key:
    """The keyring's current audit key, once the keyring is known to be this register's.

    Checked for every purpose (audit, data, index): a current key the register has not
    seen is recorded, unless the register already has keys of that purpose of which
    the keyring holds none: that is another register's key file. The index key never
    changes: a new one would not fail, it would silently find no duplicates.
    """
    known_keys = conn.execute(select(register_key.c.purpose, register_key.c.key_id,
                                     register_key.c.check_value)).all()
    for purpose in PURPOSES:
        key = keyring.current_key(purpose)
        known = {k: v for p, k, v in known_keys if p == purpose}
        if key.id in known:
            if known[key.id] != key.check_value:
                raise ConfigurationError(
                    f"the key {key.id!r} in {keyring.source} is not the one this register "
                    "used under that id; use the register's own key file")
            continue
        if purpose == "index" and known:
            raise ConfigurationError(
                f"the keyring {keyring.source}'s current index key {key.id} is not this "
                f"register's ({', '.join(sorted(known))}): every blind index would change "
                "and duplicates and ID numbers would no longer be found; make the "
                "register's index key current again")
        if known and not any(k in keyring.keys for k in known):
            raise ConfigurationError(
                f"this register's {purpose} keys are {', '.join(sorted(known))}, which the "
                f"keyring {keyring.source} does not hold; set $CUSTMDM_KEY_FILE to this "
                "register's key file")
        record_key_use(store, conn, key, now)
    return keyring.current_key("audit")


def record_key_use(store: Any, conn: Connection, key: Key, now: datetime) -> None:
    """Record that the register uses ``key`` (idempotent: two processes may meet a new
    key at once, and the second one's row is the same)."""
    conn.execute(store.dialect_insert(register_key).values(
        key_id=key.id, purpose=key.purpose, check_value=key.check_value,
        first_used_at=utc(now)).on_conflict_do_nothing(index_elements=["key_id"]))


def chain_params(key: Key, at: datetime, actor: str, action: str, entity: str
                 ) -> dict[str, Any]:
    """The parameters of :func:`chained_audit_insert` for one entry."""
    inner, outer = hmac_pads(key.secret)
    at = utc(at)
    return {"a_at": at, "a_actor": actor, "a_action": action, "a_entity": entity,
            "a_head": entry_head(at, actor, action, entity), "a_key_id": key.id,
            "a_inner": inner, "a_outer": outer}


def chained_audit_insert(after: Any, entity_id: Any, detail: Any) -> tuple[Any, Any]:
    """PostgreSQL: the CTEs that append one entry inside a larger statement.

    ``after`` is a selectable whose rows must exist before the head is locked (the
    statement's last other step), ``entity_id`` and ``detail`` SQL text expressions
    over it. The MAC is HMAC-SHA256 written with ``sha256()`` (see
    security.audit_chain.hmac_pads), over the same message as :func:`append_entries`.
    Returns ``(head, insert)`` CTEs; add both to the statement.
    """
    parts = select(entity_id.label("entity_id"), detail.label("detail")).select_from(
        after).cte("audit_parts")
    next_seq = audit_chain.c.seq + 1
    message = (audit_chain.c.mac.concat("[").concat(cast(next_seq, Text)).concat(",")
               .concat(cast(func.to_json(parts.c.entity_id), Text))
               .concat(",").concat(bindparam("a_head", type_=Text)).concat(",")
               .concat(parts.c.detail).concat("]"))
    inner = bindparam("a_inner", type_=LargeBinary)
    outer = bindparam("a_outer", type_=LargeBinary)
    mac = func.encode(func.sha256(outer.op("||")(func.sha256(
        inner.op("||")(func.convert_to(message, "UTF8"))))), "hex")
    head = (update(audit_chain).where(audit_chain.c.id == 1)
            .values(seq=next_seq, mac=mac).returning(audit_chain.c.seq, audit_chain.c.mac)
            .cte("audit_head"))
    chained = insert(audit_entry).from_select(
        list(AUDIT_CHAIN_COLUMNS),
        select(bindparam("a_at", type_=audit_entry.c.at.type),
               *(bindparam(f"a_{c}", type_=String) for c in ("actor", "action", "entity")),
               parts.c.entity_id, cast(parts.c.detail, JSON), head.c.seq, head.c.mac,
               bindparam("a_key_id", type_=String))
        .select_from(parts.join(head, true())),
    ).cte("new_audit")
    return head, chained


def read_entries(conn: Connection, batch: int = 10_000) -> Iterator[StoredEntry]:
    """Every entry in chain order, streamed."""
    columns = (audit_entry.c.id, audit_entry.c.seq, audit_entry.c.at, audit_entry.c.actor,
               audit_entry.c.action, audit_entry.c.entity, audit_entry.c.entity_id,
               cast(audit_entry.c.detail, Text), audit_entry.c.mac, audit_entry.c.key_id)
    result = conn.execution_options(yield_per=batch).execute(
        select(*columns).order_by(audit_entry.c.seq, audit_entry.c.id))
    for row in result:
        yield StoredEntry(int(row[0]), int(row[1]), utc(row[2]), *row[3:])


def chain_head(conn: Connection) -> tuple[int, str] | None:
    """The chain head: the last entry's seq and mac (None before migration 0013)."""
    row = conn.execute(select(audit_chain.c.seq, audit_chain.c.mac)
                       .where(audit_chain.c.id == 1)).first()
    return None if row is None else (int(row[0]), str(row[1]))

