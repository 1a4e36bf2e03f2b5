"""pinyin of the core; trigram index on the normalised name only

Every name also keeps the pinyin and the initials of its core (trade name + industry),
with ordinary indexes: people type those (tengxun, txkj), and a homophone typo (腾迅
for 腾讯) still shares them. The trigram index keeps only the normalised name: latin
trigrams are so common that a pinyin fragment took 100–500 ms to find among a million
names, and the core is part of the normalised name (typos are found from what is left
intact around them there, see store/search.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from custmdm.domain.names import forms_of
from custmdm.store.search import trigram_schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BEFORE = ("normalised", "core", "pinyin", "initials")
AFTER = ("normalised",)
NEW = ("core_pinyin", "core_initials")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_fts()
    else:
        for column in BEFORE[1:]:
            op.execute(f"DROP INDEX trgm_customer_name_{column}")
    comments = ("pinyin of the core: what people type, what homophones share", None)
    for column, length, comment in zip(NEW, (2000, 500), comments, strict=True):
        # A default fills the existing rows in one step; the backfill sets the values.
        op.add_column("customer_name", sa.Column(column, sa.String(length), nullable=False,
                                                 server_default="", comment=comment))
    _backfill()
    if not sqlite:  # the model has no default; SQLite cannot drop one without a copy
        for column in NEW:
            op.alter_column("customer_name", column, server_default=None)
    for column in NEW:
        op.create_index(f"ix_customer_name_{column}", "customer_name", [column])
    if sqlite:
        _create_fts(AFTER)


def _backfill() -> None:
    conn = op.get_bind()
    names = sa.table("customer_name", sa.column("id"), *(sa.column(c) for c in NEW))
    change = (sa.update(names).where(names.c.id == sa.bindparam("name_id"))
              .values(core_pinyin=sa.bindparam("p"), core_initials=sa.bindparam("i")))
    rows = conn.execute(sa.text("SELECT id, text FROM customer_name ORDER BY id"))
    while chunk := rows.fetchmany(5000):
        batch = []
        for name_id, text in chunk:
            forms = forms_of(text)
            batch.append({"name_id": name_id, "p": forms.core_pinyin,
                          "i": forms.core_initials})
        conn.execute(change, batch)


def _drop_fts() -> None:
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER customer_name_fts_{trigger}")
    op.execute("DROP TABLE customer_name_fts")


def _create_fts(searched: tuple[str, ...]) -> None:
    """The FTS5 trigram table over ``searched`` and the triggers that keep it in step."""
    columns = ", ".join(searched)
    new = ", ".join(f"new.{c}" for c in searched)
    old = ", ".join(f"old.{c}" for c in searched)
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


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_fts()
    for column in NEW:
        op.drop_index(f"ix_customer_name_{column}", "customer_name")
    if sqlite:
        with op.batch_alter_table("customer_name") as batch_op:
            for column in NEW:
                batch_op.drop_column(column)
        _create_fts(BEFORE)
    else:
        for column in NEW:
            op.drop_column("customer_name", column)
        schema = trigram_schema(op.get_bind())
        for column in BEFORE[1:]:
            op.execute(f"CREATE INDEX trgm_customer_name_{column} ON customer_name "
                       f'USING gin ({column} "{schema}".gin_trgm_ops)')
