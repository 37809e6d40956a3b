"""People's accounts (local passwords or the directory's) and their sessions.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True
    )


def upgrade() -> None:
    op.create_table(
        "account",
        _id(),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("disabled_at_ms", sa.BigInteger, nullable=True),
        sa.Column("locked_until_ms", sa.BigInteger, nullable=True),
        sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_sign_in_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "account_session",
        _id(),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger, nullable=False),
        sa.Column("closed_at_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_account_session_username", "account_session", ["username"])


def downgrade() -> None:
    op.drop_index("ix_account_session_username", "account_session")
    op.drop_table("account_session")
    op.drop_table("account")
