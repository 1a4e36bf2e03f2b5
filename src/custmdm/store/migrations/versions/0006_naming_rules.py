"""naming rules

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "naming_rule",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True,
                  comment="customer kind; NULL for every kind"),
        sa.Column("name_kinds", sa.JSON(), nullable=False, comment="name kinds it applies to"),
        sa.Column("required_parts", sa.JSON(), nullable=False),
        sa.Column("forbidden_words", sa.JSON(), nullable=False),
        sa.Column("min_length", sa.Integer(), nullable=True),
        sa.Column("max_length", sa.Integer(), nullable=True),
        sa.Column("allowed_characters", sa.JSON(), nullable=False,
                  comment="classes; empty: any"),
        sa.Column("extra_characters", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_naming_rule")),
        sa.UniqueConstraint("name", name=op.f("uq_naming_rule_name")),
        comment="Rules names must follow, set by data stewards (domain.naming).",
    )


def downgrade() -> None:
    op.drop_table("naming_rule")
