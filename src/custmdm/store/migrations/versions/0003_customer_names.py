"""customer names

Every name of every customer (legal, short, alias, English, code name, former) with
its derived forms for matching and search, and validity dates. Customers registered
before get their legal name as a name row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from custmdm.domain.names import forms_of

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_CURRENT_LEGAL = "kind = 'legal' AND valid_to IS NULL"


def upgrade() -> None:
    op.create_table(
        "customer_name",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False, comment="exactly as entered"),
        sa.Column("normalised", sa.String(length=500), nullable=False,
                  comment="domain.names.normalise"),
        sa.Column("core", sa.String(length=500), nullable=False,
                  comment="trade name + industry, for matching"),
        sa.Column("pinyin", sa.String(length=2000), nullable=False),
        sa.Column("initials", sa.String(length=500), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True,
                  comment="NULL: since the customer was registered"),
        sa.Column("valid_to", sa.Date(), nullable=True,
                  comment="NULL: still valid; else valid until this day"),
        sa.Column("source", sa.String(length=100), nullable=True,
                  comment="who or what gave the name"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('legal', 'short', 'alias', 'english', 'codename', 'former')",
            name=op.f("ck_customer_name_kind"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_from < valid_to",
            name=op.f("ck_customer_name_valid_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_customer_name_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_name")),
        comment="Every name of every customer, with its kind and validity; history is kept.",
    )
    with op.batch_alter_table("customer_name", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_name_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_name_normalised"), ["normalised"], unique=False
        )
        batch_op.create_index(
            "uq_customer_name_current_legal",
            ["customer_id"],
            unique=True,
            sqlite_where=sa.text(_CURRENT_LEGAL),
            postgresql_where=sa.text(_CURRENT_LEGAL),
        )
    _backfill_legal_names()


def _backfill_legal_names() -> None:
    """A legal-name row for every customer registered before names had a table."""
    conn = op.get_bind()
    names = sa.table("customer_name", *(sa.column(c) for c in (
        "customer_id", "kind", "text", "normalised", "core", "pinyin", "initials",
        "source", "created_at")))
    rows = conn.execute(sa.text("SELECT id, legal_name, created_at FROM customer ORDER BY id"))
    while chunk := rows.fetchmany(5000):
        batch = []
        for customer_id, legal_name, created_at in chunk:
            forms = forms_of(legal_name)
            batch.append({"customer_id": customer_id, "kind": "legal", "text": legal_name,
                          "normalised": forms.normalised, "core": forms.core,
                          "pinyin": forms.pinyin, "initials": forms.initials,
                          "source": "registration", "created_at": created_at})
        op.get_bind().execute(names.insert(), batch)


def downgrade() -> None:
    with op.batch_alter_table("customer_name", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_customer_name_current_legal",
            sqlite_where=sa.text(_CURRENT_LEGAL),
            postgresql_where=sa.text(_CURRENT_LEGAL),
        )
        batch_op.drop_index(batch_op.f("ix_customer_name_normalised"))
        batch_op.drop_index(batch_op.f("ix_customer_name_customer_id"))
    op.drop_table("customer_name")
