"""survivorship rules a steward sets per field

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "survivorship_rule",
        sa.Column("field", sa.String(16), primary_key=True,
                  comment="a field a merge decides"),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("systems", sa.JSON(), nullable=False,
                  comment="for 'trusted': systems, most trusted first"),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.CheckConstraint(
            "rule IN ('survivor', 'most_complete', 'most_recent', 'trusted')", name="rule"),
        comment="Survivorship rules (字段保留规则) a steward set; a field without a row "
                "keeps the built-in rule (domain.survivorship).",
    )


def downgrade() -> None:
    op.drop_table("survivorship_rule")
