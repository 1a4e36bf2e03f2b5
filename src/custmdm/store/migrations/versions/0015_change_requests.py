"""change requests (maker–checker) and the actions that need approval

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approval_rule",
        sa.Column("action", sa.String(32), nullable=False,
                  comment="customer.change_code, customer.merge, customer.rename, "
                          "customer.retire, xref.move, rule.change"),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("action", name=op.f("pk_approval_rule")),
        comment="Actions that need a second user's approval (变更申请 / 审批).",
    )
    op.create_table(
        "change_request",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False,
                  comment="the intended change: the use case's arguments"),
        sa.Column("customer_id", Id, nullable=True,
                  comment="the customer it is about, for scopes (the first of a merge)"),
        sa.Column("target", sa.String(200), nullable=False,
                  comment="what it is about, as people read it"),
        sa.Column("versions", sa.JSON(), nullable=False,
                  comment="what it was made against: customer id → version (rule → "
                          "version); a change since makes applying it a conflict"),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", Timestamp, nullable=False),
        sa.Column("reason", sa.String(500), nullable=True, comment="the requester's"),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", Timestamp, nullable=True),
        sa.Column("decision_reason", sa.String(500), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'applied', 'rejected', 'conflict', 'withdrawn')",
            name=op.f("ck_change_request_status")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"],
                                name=op.f("fk_change_request_customer_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_request")),
        comment="Change requests: a governed change waiting for, or decided by, a second "
                "user.",
    )
    op.create_index(op.f("ix_change_request_status"), "change_request", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_change_request_status"), table_name="change_request")
    op.drop_table("change_request")
    op.drop_table("approval_rule")
