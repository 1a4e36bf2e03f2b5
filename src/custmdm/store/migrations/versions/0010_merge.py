"""merges of duplicates, with what undo needs

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "merge",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("survivor_id", Id, sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("loser_ids", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False,
                  comment="field -> code its value came from"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False,
                  comment="every row the merge changed, as it was (per table), for undo"),
        sa.Column("added_keys", sa.JSON(), nullable=False,
                  comment="match keys the survivor gained"),
        sa.Column("versions", sa.JSON(), nullable=False,
                  comment="customer id -> version after merge"),
        sa.Column("merged_at", Timestamp, nullable=False),
        sa.Column("merged_by", sa.String(100), nullable=False),
        sa.Column("undone_at", Timestamp),
        sa.Column("undone_by", sa.String(100)),
        comment="Merges of duplicates into a survivor, with what undo needs.",
    )
    op.create_index("ix_merge_survivor_id", "merge", ["survivor_id"])


def downgrade() -> None:
    op.drop_table("merge")
