"""key mapping: systems and their ids for customers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "system",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system")),
        sa.UniqueConstraint("name", name=op.f("uq_system_name")),
        comment="Other systems that know customers under their own ids (ERP, CRM, billing).",
    )
    op.create_table(
        "xref",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("system_id", Id, nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False,
                  comment="the system's own id"),
        sa.Column("external_name", sa.String(length=500), nullable=True,
                  comment="what the system calls the customer"),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True,
                  comment="NULL: the mapping holds; else it ended that day"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to",
            name=op.f("ck_xref_valid_dates"),
        ),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"],
                                name=op.f("fk_xref_customer_id_customer")),
        sa.ForeignKeyConstraint(["system_id"], ["system.id"],
                                name=op.f("fk_xref_system_id_system")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xref")),
        comment="Key mapping (客户对应关系): a system's id and name for a customer.",
    )
    with op.batch_alter_table("xref", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_xref_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            "uq_xref_current_system_external_id",
            ["system_id", "external_id"],
            unique=True,
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("xref", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_xref_current_system_external_id",
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_xref_customer_id"))
    op.drop_table("xref")
    op.drop_table("system")
