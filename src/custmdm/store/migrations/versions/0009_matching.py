"""contacts, the blocking index and match rules

Contacts (phones, e-mails, addresses, legal representative) get a table of their own
with the canonical form matching compares. ``match_key`` is the blocking index the
duplicate check looks candidates up in (domain.matching.blocking_keys); it is filled
here from every existing customer's names and active identifiers. ``match_rule`` holds
what a steward set per customer kind (block, warn, link above a probability); it
starts with domain.matching.DEFAULT_RULES.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 19:30:00
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from custmdm.domain.matching import DEFAULT_RULES, MatchRecord, blocking_keys
from custmdm.domain.names import NameForms

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "contact",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("customer_id", Id, sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("value", sa.String(500), nullable=False, comment="as entered"),
        sa.Column("canonical", sa.String(500), nullable=False,
                  comment="what matching compares: E.164 phone, lower-case e-mail, "
                          "normalised text"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('phone', 'email', 'address', 'legal_representative')",
                           name="kind"),
        comment="Phones, e-mails, addresses and the legal representative (domain.contacts).",
    )
    op.create_index("ix_contact_customer_id", "contact", ["customer_id"])
    op.create_table(
        "match_key",
        sa.Column("key", sa.String(100), primary_key=True,
                  comment="domain.matching.blocking_keys: i: identifier, n: name core, "
                          "p: pinyin…"),
        sa.Column("customer_id", Id, sa.ForeignKey("customer.id"), primary_key=True),
        sqlite_with_rowid=False,
        comment="The blocking index: where the duplicate check finds its candidates. "
                "Written with the data it is made from, in the same transaction.",
    )
    op.create_index("ix_match_key_customer_id", "match_key", ["customer_id"])
    op.create_table(
        "match_rule",
        sa.Column("kind", sa.String(16), primary_key=True, comment="customer kind"),
        sa.Column("action", sa.String(8), primary_key=True),
        sa.Column("threshold", sa.Float(), nullable=False, comment="match probability"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.CheckConstraint("action IN ('block', 'warn', 'link')", name="action"),
        sa.CheckConstraint("threshold > 0 AND threshold <= 1", name="threshold"),
        comment="What the duplicate check does per customer kind above a threshold; a "
                "kind with no rows is not checked.",
    )
    rules = sa.table("match_rule", *(sa.column(c) for c in (
        "kind", "action", "threshold", "updated_at", "updated_by")))
    now = datetime.now(UTC)
    op.bulk_insert(rules, [{**rule.to_dict(), "updated_at": now, "updated_by": "custmdm"}
                           for rule in DEFAULT_RULES])
    _backfill_keys()


def _backfill_keys() -> None:
    """Keys of every customer from its names and active identifiers, in batches of
    customers (both read in customer order, so each batch is complete)."""
    conn = op.get_bind()
    keys = sa.table("match_key", sa.column("key"), sa.column("customer_id"))
    names = conn.execute(sa.text(
        "SELECT n.customer_id, c.region, n.normalised, n.core, n.pinyin, n.initials,"
        " n.core_pinyin, n.core_initials FROM customer_name n"
        " JOIN customer c ON c.id = n.customer_id ORDER BY n.customer_id, n.id"))
    idents = iter(conn.execute(sa.text(
        "SELECT customer_id, scheme, value FROM identifier WHERE active"
        " ORDER BY customer_id")).all())
    pending_ident = next(idents, None)
    rows: list[dict[str, object]] = []
    for customer_id, group in itertools.groupby(names, key=lambda r: r[0]):
        held = set()
        while pending_ident is not None and pending_ident[0] <= customer_id:
            if pending_ident[0] == customer_id:
                held.add(f"{pending_ident[1]}:{pending_ident[2]}")
            pending_ident = next(idents, None)
        named = list(group)
        record = MatchRecord("", tuple(NameForms(*r[2:]) for r in named),
                             region=named[0][1], identifiers=frozenset(held))
        rows.extend({"key": k, "customer_id": customer_id} for k in blocking_keys(record))
        if len(rows) >= BATCH:
            conn.execute(sa.insert(keys), rows)
            rows = []
    if rows:
        conn.execute(sa.insert(keys), rows)


def downgrade() -> None:
    op.drop_table("match_rule")
    op.drop_table("match_key")
    op.drop_table("contact")
