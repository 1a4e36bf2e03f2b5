"""idempotency keys for creates over the API

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("key", sa.String(200), nullable=False,
                  comment="the client's Idempotency-Key"),
        sa.Column("fingerprint", sa.String(64), nullable=False,
                  comment="SHA-256 of the request: the same key with another request is an "
                          "error"),
        sa.Column("customer_id", Id, nullable=True,
                  comment="the customer registered; NULL while the first request runs"),
        sa.Column("after_seq", sa.BigInteger(), nullable=False,
                  comment="the audit chain's length when the key was taken: where to look "
                          "for a registration that committed without this row being "
                          "finished"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim", sa.String(32), nullable=False,
                  comment="which request holds the key: only it may finish or give it back"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"],
                                name=op.f("fk_idempotency_key_customer_id_customer")),
        sa.PrimaryKeyConstraint("actor", "key", name=op.f("pk_idempotency_key")),
        comment="Idempotent creates (core.idempotency): a retried request returns the first "
                "result instead of registering twice.",
    )


def downgrade() -> None:
    op.drop_table("idempotency_key")
