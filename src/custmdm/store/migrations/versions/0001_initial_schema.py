"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 13:39:46.195977
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
        comment="Who changed what, when; written in the same transaction as the change.",
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_entry_entity_entity_id"), ["entity", "entity_id"], unique=False
        )

    op.create_table(
        "code_counter",
        sa.Column("rule_name", sa.String(length=64), nullable=False),
        sa.Column(
            "scope_key", sa.String(length=64), nullable=False, comment="'' for one counter per rule"
        ),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("next_value >= 1", name=op.f("ck_code_counter_positive")),
        sa.PrimaryKeyConstraint("rule_name", "scope_key", name=op.f("pk_code_counter")),
        comment="The next sequence number per rule and scope; only ever goes up.",
    )
    op.create_table(
        "coding_rule",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("pattern", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("gapless", sa.Boolean(), nullable=False),
        sa.Column("counter_scope", sa.String(length=8), nullable=False),
        sa.Column("cond_kind", sa.String(length=16), nullable=True),
        sa.Column("cond_region_prefix", sa.String(length=6), nullable=True),
        sa.Column("cond_industry", sa.String(length=4), nullable=True),
        sa.Column("cond_grade", sa.String(length=16), nullable=True),
        sa.Column("kind_letters", sa.JSON(), nullable=False),
        sa.Column("grade_letters", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "counter_scope IN ('prefix', 'rule')", name=op.f("ck_coding_rule_counter_scope")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coding_rule")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_coding_rule_name_version")),
        comment="Every version of every coding rule; one current version per name.",
    )
    with op.batch_alter_table("coding_rule", schema=None) as batch_op:
        batch_op.create_index(
            "uq_coding_rule_current_name",
            ["name"],
            unique=True,
            sqlite_where=sa.text("is_current"),
            postgresql_where=sa.text("is_current"),
        )

    op.create_table(
        "customer",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "legal_name", sa.String(length=500), nullable=False, comment="exactly as entered"
        ),
        sa.Column("country", sa.String(length=2), nullable=False, comment="ISO 3166-1 alpha-2"),
        sa.Column(
            "region",
            sa.String(length=6),
            nullable=True,
            comment="GB/T 2260 code (Chinese customers)",
        ),
        sa.Column(
            "industry",
            sa.String(length=4),
            nullable=True,
            comment="GB/T 4754 code: section letter or digits",
        ),
        sa.Column(
            "industry_section",
            sa.String(length=1),
            nullable=True,
            comment="GB/T 4754 section letter",
        ),
        sa.Column("size", sa.String(length=8), nullable=True),
        sa.Column("grade", sa.String(length=16), nullable=True),
        sa.Column("lifecycle", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('enterprise', 'individual', 'government', 'other')",
            name=op.f("ck_customer_kind"),
        ),
        sa.CheckConstraint(
            "lifecycle IN ('prospect', 'active', 'dormant', 'churned', 'merged', 'retired')",
            name=op.f("ck_customer_lifecycle"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        comment="One row per customer; its codes, names and identifiers hang off it.",
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_lifecycle"), ["lifecycle"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_region"), ["region"], unique=False)

    op.create_table(
        "customer_code",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("rule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("scope_key", sa.String(length=64), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "customer_id IS NOT NULL OR status IN ('reserved', 'void')",
            name=op.f("ck_customer_code_owned"),
        ),
        sa.CheckConstraint(
            "status IN ('reserved', 'active', 'superseded', 'retired', 'void')",
            name=op.f("ck_customer_code_status"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_customer_code_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["coding_rule.id"], name=op.f("fk_customer_code_rule_id_coding_rule")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_code")),
        sa.UniqueConstraint("value", name=op.f("uq_customer_code_value")),
        comment="Append-only: every code value ever reserved or issued, unique for all time.",
    )
    with op.batch_alter_table("customer_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_code_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_code_rule_id_scope_key_seq"),
            ["rule_id", "scope_key", "seq"],
            unique=False,
        )
        batch_op.create_index(
            "uq_customer_code_active_customer",
            ["customer_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "identifier",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "scheme", sa.String(length=32), nullable=False, comment="cn.uscc, cn.ric, vat.<cc>"
        ),
        sa.Column("value", sa.String(length=64), nullable=False, comment="compact canonical form"),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_identifier_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identifier")),
        comment="Official numbers; each belongs to at most one active customer.",
    )
    with op.batch_alter_table("identifier", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identifier_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "uq_identifier_active_scheme_value",
            ["scheme", "value"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )


def downgrade() -> None:
    with op.batch_alter_table("identifier", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_identifier_active_scheme_value",
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )
        batch_op.drop_index(batch_op.f("ix_identifier_customer_id"))

    op.drop_table("identifier")
    with op.batch_alter_table("customer_code", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_customer_code_active_customer",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_customer_code_rule_id_scope_key_seq"))
        batch_op.drop_index(batch_op.f("ix_customer_code_customer_id"))

    op.drop_table("customer_code")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_region"))
        batch_op.drop_index(batch_op.f("ix_customer_lifecycle"))

    op.drop_table("customer")
    with op.batch_alter_table("coding_rule", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_coding_rule_current_name",
            sqlite_where=sa.text("is_current"),
            postgresql_where=sa.text("is_current"),
        )

    op.drop_table("coding_rule")
    op.drop_table("code_counter")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_entity_entity_id"))

    op.drop_table("audit_entry")
