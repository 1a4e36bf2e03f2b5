"""idempotency keys expire: an index on their age

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_idempotency_key_created_at"), "idempotency_key",
                    ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_key_created_at"), table_name="idempotency_key")
