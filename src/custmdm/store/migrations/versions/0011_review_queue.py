"""batch linkage models, the review queue, pairs that are not duplicates

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "match_model",
        sa.Column("name", sa.String(32), primary_key=True,
                  comment="which customers it links: 'organisations' or 'individuals'"),
        sa.Column("model", sa.JSON(), nullable=False,
                  comment="the trained Splink model (its JSON)"),
        sa.Column("trained_at", Timestamp, nullable=False),
        sa.Column("trained_by", sa.String(100), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False,
                  comment="customers it was trained on"),
        comment="Trained batch linkage models, reused by routine runs (core.batch).",
    )
    op.create_table(
        "review_cluster",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_at", Timestamp, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("customer_ids", sa.JSON(), nullable=False),
        sa.Column("decided_at", Timestamp),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("merge_id", Id, sa.ForeignKey("merge.id")),
        sa.CheckConstraint(
            "status IN ('open', 'deferred', 'accepted', 'rejected', 'stale')", name="status"),
        comment="Review queue (待复核队列): clusters of likely duplicates from a batch run.",
    )
    op.create_index("ix_review_cluster_status", "review_cluster", ["status"])
    op.create_table(
        "review_pair",
        sa.Column("cluster_id", Id, sa.ForeignKey("review_cluster.id"), primary_key=True),
        sa.Column("left_id", Id, sa.ForeignKey("customer.id"), primary_key=True),
        sa.Column("right_id", Id, sa.ForeignKey("customer.id"), primary_key=True),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("why", sa.JSON(), nullable=False, comment="explanations, strongest first"),
        comment="The scored pairs of a review cluster.",
    )
    op.create_table(
        "not_duplicate",
        sa.Column("left_id", Id, sa.ForeignKey("customer.id"), primary_key=True),
        sa.Column("right_id", Id, sa.ForeignKey("customer.id"), primary_key=True),
        sa.Column("decided_at", Timestamp, nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.CheckConstraint("left_id < right_id", name="ordered"),
        comment="Pairs a steward said are different customers: never proposed again.",
    )


def downgrade() -> None:
    for table in ("not_duplicate", "review_pair", "review_cluster", "match_model"):
        op.drop_table(table)
