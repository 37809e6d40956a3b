"""Reload requests: every process of every node follows the newest one, so a reload asked of
one (SIGHUP, `ioc rules reload`, the API) reaches them all.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reload_request",
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True),
        sa.Column("requested_at_ms", sa.BigInteger, nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reload_request")
