"""search indexes

Names are searched by substring and with typos through trigram indexes: an FTS5
table with the trigram tokenizer on SQLite (kept in step with customer_name by
triggers, in the same transaction), pg_trgm GIN indexes on PostgreSQL. Identifiers
and external ids get plain indexes on their values, for lookups without a scheme or
a system. See custmdm.store.search, where the queries live.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:50:00
"""

from __future__ import annotations

from alembic import op

from custmdm.store.search import trigram_schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Columns of customer_name that the trigram index covers.
SEARCHED = ("normalised", "core", "pinyin", "initials")


def upgrade() -> None:
    with op.batch_alter_table("identifier", schema=None) as batch_op:
        batch_op.create_index("ix_identifier_value", ["value"], unique=False)
    with op.batch_alter_table("xref", schema=None) as batch_op:
        batch_op.create_index("ix_xref_external_id", ["external_id"], unique=False)
    with op.batch_alter_table("customer_name", schema=None) as batch_op:
        batch_op.create_index("ix_customer_name_core", ["core"], unique=False)
        batch_op.create_index("ix_customer_name_pinyin", ["pinyin"], unique=False)
        batch_op.create_index("ix_customer_name_initials", ["initials"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        columns = ", ".join(SEARCHED)
        new = ", ".join(f"new.{c}" for c in SEARCHED)
        old = ", ".join(f"old.{c}" for c in SEARCHED)
        op.execute(f"CREATE VIRTUAL TABLE customer_name_fts USING fts5({columns}, "
                   "content='customer_name', content_rowid='id', tokenize='trigram')")
        op.execute("CREATE TRIGGER customer_name_fts_insert AFTER INSERT ON customer_name "
                   f"BEGIN INSERT INTO customer_name_fts(rowid, {columns}) "
                   f"VALUES (new.id, {new}); END")
        op.execute("CREATE TRIGGER customer_name_fts_delete AFTER DELETE ON customer_name "
                   f"BEGIN INSERT INTO customer_name_fts(customer_name_fts, rowid, {columns}) "
                   f"VALUES ('delete', old.id, {old}); END")
        op.execute("CREATE TRIGGER customer_name_fts_update AFTER UPDATE ON customer_name "
                   f"BEGIN INSERT INTO customer_name_fts(customer_name_fts, rowid, {columns}) "
                   f"VALUES ('delete', old.id, {old}); "
                   f"INSERT INTO customer_name_fts(rowid, {columns}) "
                   f"VALUES (new.id, {new}); END")
        op.execute("INSERT INTO customer_name_fts(customer_name_fts) VALUES ('rebuild')")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema = trigram_schema(op.get_bind())
        for column in SEARCHED:
            op.execute(f"CREATE INDEX trgm_customer_name_{column} ON customer_name "
                       f'USING gin ({column} "{schema}".gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER customer_name_fts_{trigger}")
        op.execute("DROP TABLE customer_name_fts")
    else:
        for column in SEARCHED:
            op.execute(f"DROP INDEX trgm_customer_name_{column}")
    with op.batch_alter_table("customer_name", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_name_initials")
        batch_op.drop_index("ix_customer_name_pinyin")
        batch_op.drop_index("ix_customer_name_core")
    with op.batch_alter_table("xref", schema=None) as batch_op:
        batch_op.drop_index("ix_xref_external_id")
    with op.batch_alter_table("identifier", schema=None) as batch_op:
        batch_op.drop_index("ix_identifier_value")
