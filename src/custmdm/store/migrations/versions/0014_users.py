"""users, custom roles, grants (a role within a scope) and API tokens

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 03:00:00

The first user is made by ``custmdm init`` (core.access.ensure_first_administrator).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False, comment="the login name"),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False,
                  comment="person, or system (another system)"),
        sa.Column("team", sa.String(64), nullable=True, comment="for grants with scope team:NAME"),
        sa.Column("password_hash", sa.String(200), nullable=True,
                  comment="argon2id; none: token or local use only"),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("disabled_at", Timestamp, nullable=True),
        sa.Column("disabled_reason", sa.String(500), nullable=True),
        sa.CheckConstraint("kind IN ('person', 'system')", name=op.f("ck_app_user_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("name", name=op.f("uq_app_user_name")),
        comment="Users (people and other systems); audit entries name them. Never deleted: "
                "disabled.",
    )
    op.create_table(
        "custom_role",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False, comment="permission names"),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_custom_role")),
        comment="Roles a register defines beside the built-in ones (security.access.ROLES).",
    )
    op.create_table(
        "access_grant",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(80), nullable=False,
                  comment="all, own, region:44, industry:C, team:NAME"),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"],
                                name=op.f("fk_access_grant_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grant")),
        sa.UniqueConstraint("user_id", "role", "scope",
                            name=op.f("uq_access_grant_user_id_role_scope")),
        comment="A role within a scope, given to a user.",
    )
    op.create_index(op.f("ix_access_grant_user_id"), "access_grant", ["user_id"])
    op.create_table(
        "api_token",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("name", sa.String(100), nullable=False, comment="what it is for"),
        sa.Column("token_hash", sa.String(64), nullable=False,
                  comment="SHA-256 of the token; the token itself is shown once and never "
                          "stored"),
        sa.Column("prefix", sa.String(16), nullable=False,
                  comment="its first characters, to tell tokens apart"),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=True),
        sa.Column("revoked_at", Timestamp, nullable=True),
        sa.Column("last_used_at", Timestamp, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"],
                                name=op.f("fk_api_token_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
        comment="API tokens (bearer) of users and systems.",
    )
    op.create_index(op.f("ix_api_token_user_id"), "api_token", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_api_token_user_id"), table_name="api_token")
    op.drop_table("api_token")
    op.drop_index(op.f("ix_access_grant_user_id"), table_name="access_grant")
    op.drop_table("access_grant")
    op.drop_table("custom_role")
    op.drop_table("app_user")
