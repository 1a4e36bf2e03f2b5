"""external names searchable

A key mapping's external name (what another system calls the customer) is kept
normalised beside it, with an index, so search finds a customer by it. Existing
mappings are backfilled.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from custmdm.domain.names import normalise

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("xref", sa.Column(
        "external_normalised", sa.String(500), nullable=True,
        comment="domain.names.normalise of external_name, for search"))
    conn = op.get_bind()
    mappings = sa.table("xref", sa.column("id"), sa.column("external_normalised"))
    change = (sa.update(mappings).where(mappings.c.id == sa.bindparam("mapping_id"))
              .values(external_normalised=sa.bindparam("normalised")))
    rows = conn.execute(sa.text(
        "SELECT id, external_name FROM xref WHERE external_name IS NOT NULL ORDER BY id"))
    while chunk := rows.fetchmany(5000):
        conn.execute(change, [{"mapping_id": i, "normalised": normalise(name) or None}
                              for i, name in chunk])
    op.create_index("ix_xref_external_normalised", "xref", ["external_normalised"])


def downgrade() -> None:
    op.drop_index("ix_xref_external_normalised", "xref")
    with op.batch_alter_table("xref") as batch_op:
        batch_op.drop_column("external_normalised")
