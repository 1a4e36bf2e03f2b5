"""tamper-evident audit: hash chain (HMAC), append-only triggers, register keys

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 03:00:00

Existing entries are chained in the order of their ids, under the keyring's current
audit key, which the caller passes as ``config.attributes["keyring"]``
(store.schema.upgrade).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from custmdm.security.audit_chain import GENESIS, entry_head, entry_mac, entry_message

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
CHUNK = 50_000
APPEND_ONLY_MESSAGE = "audit_entry is append-only: entries cannot be changed or deleted"


def upgrade() -> None:
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
        comment="The head of the audit chain: the last entry's seq and mac. Writers lock "
                "this row to append, which puts every entry in one order.",
    )
    op.create_table(
        "register_key",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(8), nullable=False),
        sa.Column("check_value", sa.String(32), nullable=False,
                  comment="HMAC of a fixed text under the key: recognises it, reveals nothing"),
        sa.Column("first_used_at", Timestamp, nullable=False),
        sa.CheckConstraint("purpose IN ('audit', 'data', 'index')",
                           name=op.f("ck_register_key_purpose")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_register_key")),
        comment="The keys (kept outside the database, security.keys) this register has "
                "used, so that the wrong key file is refused rather than used.",
    )
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True,
                                   comment="place in the hash chain: 1, 2, 3 … in the order "
                                           "of commit"))
        batch.add_column(sa.Column("mac", sa.String(64), nullable=True,
                                   comment="HMAC-SHA256 over the previous entry's mac and "
                                           "this entry (security.audit_chain)"))
        batch.add_column(sa.Column("key_id", sa.String(32), nullable=True,
                                   comment="the audit key of the mac"))
    head_seq, head_mac = _chain_existing_entries()
    op.execute(sa.text("INSERT INTO audit_chain (id, seq, mac) VALUES (1, :seq, :mac)")
               .bindparams(seq=head_seq, mac=head_mac))
    with op.batch_alter_table("audit_entry") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("mac", existing_type=sa.String(64), nullable=False)
        batch.alter_column("key_id", existing_type=sa.String(32), nullable=False)
        batch.create_unique_constraint(batch.f("uq_audit_entry_seq"), ["seq"])
        batch.create_index(batch.f("ix_audit_entry_entity_entity_id"), ["entity", "entity_id"])
    _create_append_only_triggers()
    if op.get_bind().dialect.name != "sqlite":
        op.create_table_comment(
            "audit_entry",
            "Who changed what, when; written in the same transaction as the change. "
            "Append-only: triggers refuse UPDATE and DELETE (migration 0013).",
            existing_comment="Who changed what, when; written in the same transaction as "
                             "the change.")


def _chain_existing_entries() -> tuple[int, str]:
    """Give every existing entry its seq and mac, in id order; the chain head."""
    conn = op.get_bind()
    count = conn.execute(sa.text("SELECT count(*) FROM audit_entry")).scalar_one()
    if not count:
        return 0, GENESIS
    config = op.get_context().config
    load_keyring = config.attributes.get("keyring") if config is not None else None
    if load_keyring is None:
        raise RuntimeError("migration 0013 chains the existing audit entries and needs "
                           "the keyring (store.schema.upgrade passes it)")
    key = load_keyring().current_key("audit")
    entries = sa.table("audit_entry", sa.column("id"), sa.column("at", Timestamp),
                       *(sa.column(c) for c in ("actor", "action", "entity", "entity_id")),
                       sa.column("detail", sa.JSON))
    columns = [*(entries.c[c] for c in ("id", "at", "actor", "action", "entity",
                                         "entity_id")), sa.cast(entries.c.detail, sa.Text)]
    update = sa.text("UPDATE audit_entry SET seq = :s, mac = :m, key_id = :k WHERE id = :i")
    previous, seq, last_id = GENESIS, 0, None
    while True:  # in chunks by id, so memory stays flat however long the trail
        query = sa.select(*columns).order_by(entries.c.id).limit(CHUNK)
        if last_id is not None:
            query = query.where(entries.c.id > last_id)
        rows = conn.execute(query).all()
        if not rows:
            break
        updates = []
        for row in rows:
            entry_id, at, actor, action, entity, entity_id, detail = tuple(row)
            seq += 1
            message = entry_message(previous, seq, entity_id,
                                    entry_head(at, actor, action, entity), detail)
            previous = entry_mac(key.secret, message)
            updates.append({"i": entry_id, "s": seq, "m": previous, "k": key.id})
        conn.execute(update, updates)
        last_id = rows[-1][0]
    keys = sa.table("register_key", *(sa.column(c) for c in ("key_id", "purpose",
                                                              "check_value")),
                    sa.column("first_used_at", Timestamp))
    conn.execute(sa.insert(keys).values(key_id=key.id, purpose="audit",
                                        check_value=key.check_value,
                                        first_used_at=datetime.now(UTC)))
    return seq, previous


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_entry_no_{event.lower()} BEFORE {event} ON audit_entry
                BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END""")
        return
    op.execute(f"""
        CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$""")
    op.execute("""
        CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
        FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()""")
    op.execute("""
        CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
        FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_entry_no_update")
        op.execute("DROP TRIGGER audit_entry_no_delete")
    else:
        op.execute("DROP TRIGGER audit_entry_no_truncate ON audit_entry")
        op.execute("DROP TRIGGER audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION audit_entry_append_only()")
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_index(batch.f("ix_audit_entry_entity_entity_id"))
        batch.drop_constraint(batch.f("uq_audit_entry_seq"), type_="unique")
        batch.drop_column("key_id")
        batch.drop_column("mac")
        batch.drop_column("seq")
    op.drop_table("register_key")
    op.drop_table("audit_chain")
