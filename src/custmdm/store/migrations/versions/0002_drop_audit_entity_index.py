"""drop the audit entity index

No query reads audit entries by entity yet, and the index cost bulk loads about a
tenth of their time: string ids ("99", "100") land all over it. The audit trail's
own lookups come with the governance work, keyed so that inserts append.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_entity_entity_id"))


def downgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_entry_entity_entity_id"), ["entity", "entity_id"], unique=False
        )
