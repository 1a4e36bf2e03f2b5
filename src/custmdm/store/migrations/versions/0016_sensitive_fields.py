"""personal data encrypted at rest, with blind indexes (security.fields)

Contacts' values and canonical forms become AES-GCM tokens under the keyring's data
key, with a blind index of the canonical form (``contact.blind``); a person's
identifier number (``cn.ric``) moves to ``identifier.sealed``, encrypted, and
``identifier.value`` keeps its blind index. Match keys made of phones, e-mails and
those numbers, and the same rows saved in merges for undo, are rewritten alike. Rows
are read and rewritten in chunks by id, so memory stays flat however large the
register. The keyring's data and index keys are recorded in ``register_key`` (on an
empty register, by the first write: store.audit.check_audit_key).

Audit entries written before this revision keep what they recorded: the trail is
append-only and chained, so it cannot be rewritten.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 06:30:00
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from custmdm.domain.contacts import Contact
from custmdm.errors import ConfigurationError
from custmdm.security.fields import PERSONAL_SCHEMES, SensitiveFields

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

CHUNK = 20_000
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The keyring is checked before anything changes.
    fields = _fields() if _has_personal_data() else None
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column(
            "blind", sa.String(32), nullable=True,
            comment="blind index (keyed HMAC) of the canonical form, for equality search"))
        batch.alter_column("value", type_=sa.Text(), existing_type=sa.String(500),
                           existing_nullable=False,
                           comment="as entered, encrypted (security.fields)",
                           existing_comment="as entered")
        batch.alter_column("canonical", type_=sa.Text(), existing_type=sa.String(500),
                           existing_nullable=False,
                           comment="what matching compares (E.164 phone, lower-case e-mail, "
                                   "normalised text), encrypted",
                           existing_comment="what matching compares: E.164 phone, "
                                            "lower-case e-mail, normalised text")
    op.add_column("identifier", sa.Column(
        "sealed", sa.Text(), nullable=True,
        comment="a person's number, encrypted (security.fields)"))
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps no comments
        op.alter_column("identifier", "value", existing_type=sa.String(64),
                        existing_nullable=False,
                        comment="compact canonical form; for a person's number (security."
                                "fields.PERSONAL_SCHEMES) its blind index",
                        existing_comment="compact canonical form")
    if fields is not None:
        _seal_contacts(fields)
        _seal_identifiers(fields)
        _blind_match_keys(fields)
        _seal_merge_snapshots(fields)
    with op.batch_alter_table("contact") as batch:
        batch.alter_column("blind", existing_type=sa.String(32), nullable=False)
    op.create_index(op.f("ix_contact_blind"), "contact", ["blind"])


def downgrade() -> None:
    raise NotImplementedError("personal data is not decrypted back into the database; "
                              "restore a backup taken before revision 0016")


def _has_personal_data() -> bool:
    conn = op.get_bind()
    return any(conn.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first()
               for table in ("contact", "identifier", "merge"))


def _fields() -> SensitiveFields:
    config = op.get_context().config
    load_keyring = config.attributes.get("keyring") if config is not None else None
    if load_keyring is None:
        raise RuntimeError("migration 0016 encrypts personal data and needs the keyring "
                           "(store.schema.upgrade passes it)")
    keyring = load_keyring()
    keys = sa.table("register_key", *(sa.column(c) for c in ("key_id", "purpose",
                                                              "check_value")),
                    sa.column("first_used_at", Timestamp))
    conn = op.get_bind()
    known = set(conn.execute(sa.select(keys.c.key_id)).scalars())
    if known and not known & set(keyring.keys):
        # Sealing under a key file that is not this register's would leave it readable
        # by neither file.
        raise ConfigurationError(
            f"the keyring {keyring.source} holds none of this register's keys "
            f"({', '.join(sorted(known))}); set $CUSTMDM_KEY_FILE to the register's key "
            "file and upgrade again (nothing was changed)")
    for purpose in ("data", "index"):
        key = keyring.current_key(purpose)
        if key.id not in known:
            conn.execute(sa.insert(keys).values(key_id=key.id, purpose=purpose,
                                                check_value=key.check_value,
                                                first_used_at=datetime.now(UTC)))
    return SensitiveFields.from_keyring(keyring)


def _chunks(query: Any, id_column: Any) -> Any:
    """The rows of ``query`` in chunks, by ascending ``id_column``."""
    conn = op.get_bind()
    last = None
    while True:
        page = query.order_by(id_column).limit(CHUNK)
        if last is not None:
            page = page.where(id_column > last)
        rows = conn.execute(page).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _seal_contacts(fields: SensitiveFields) -> None:
    contact = sa.table("contact", *(sa.column(c) for c in ("id", "kind", "value",
                                                            "canonical", "blind")))
    update = sa.text("UPDATE contact SET value = :v, canonical = :c, blind = :b "
                     "WHERE id = :i")
    for rows in _chunks(sa.select(contact.c.id, contact.c.kind, contact.c.value,
                                  contact.c.canonical), contact.c.id):
        sealed = [(i, fields.contact_row(Contact(kind, value, canonical)))
                  for i, kind, value, canonical in rows]
        op.get_bind().execute(update, [{"i": i, "v": r["value"], "c": r["canonical"],
                                        "b": r["blind"]} for i, r in sealed])


def _seal_identifiers(fields: SensitiveFields) -> None:
    ident = sa.table("identifier", *(sa.column(c) for c in ("id", "scheme", "value",
                                                             "sealed")))
    update = sa.text("UPDATE identifier SET value = :v, sealed = :s WHERE id = :i")
    query = sa.select(ident.c.id, ident.c.scheme, ident.c.value).where(
        ident.c.scheme.in_(sorted(PERSONAL_SCHEMES)), ident.c.sealed.is_(None))
    for rows in _chunks(query, ident.c.id):
        sealed = [(i, fields.identifier_row(scheme, value)) for i, scheme, value in rows]
        op.get_bind().execute(update, [{"i": i, "v": r["value"], "s": r["sealed"]}
                                       for i, r in sealed])


def _blind_match_keys(fields: SensitiveFields) -> None:
    """Replace keys of phones, e-mails and persons' numbers by their blind forms, in
    chunks of customers."""
    conn = op.get_bind()
    keys = sa.table("match_key", sa.column("key"), sa.column("customer_id"))
    personal = sa.or_(keys.c.key.like("t:%"), keys.c.key.like("e:%"),
                      *(keys.c.key.like(f"i:{s}:%") for s in sorted(PERSONAL_SCHEMES)))
    customers = sa.table("customer", sa.column("id"))
    for rows in _chunks(sa.select(customers.c.id), customers.c.id):
        first, last = rows[0][0], rows[-1][0]
        in_chunk = sa.and_(keys.c.customer_id >= first, keys.c.customer_id <= last, personal)
        found = conn.execute(sa.select(keys.c.key, keys.c.customer_id).where(in_chunk)).all()
        if not found:
            continue
        conn.execute(sa.delete(keys).where(in_chunk))
        blinded = {(fields.match_key(k), c) for k, c in found}
        conn.execute(sa.insert(keys), [{"key": k, "customer_id": c} for k, c in blinded])


def _seal_merge_snapshots(fields: SensitiveFields) -> None:
    """The rows a merge saved for undo: contacts and identifiers sealed, keys blinded
    (merges are few: read one at a time)."""
    conn = op.get_bind()
    merges = sa.table("merge", sa.column("id"), sa.column("before", sa.JSON),
                      sa.column("added_keys", sa.JSON))
    for merge_id in conn.execute(sa.select(merges.c.id)).scalars().all():
        before, added = conn.execute(sa.select(merges.c.before, merges.c.added_keys)
                                     .where(merges.c.id == merge_id)).one()
        before = json.loads(before) if isinstance(before, str) else before
        added = json.loads(added) if isinstance(added, str) else added
        for row in before.get("contact", []):
            row.update(fields.contact_row(Contact(row["kind"], row["value"],
                                                  row["canonical"])))
        for row in before.get("identifier", []):
            if row.get("sealed") is None:
                row.update(fields.identifier_row(row["scheme"], row["value"]))
        before["match_key"] = [[fields.match_key(k), c] for k, c in before.get("match_key",
                                                                                  [])]
        conn.execute(sa.update(merges).where(merges.c.id == merge_id).values(
            before=before, added_keys=[fields.match_key(k) for k in added]))
