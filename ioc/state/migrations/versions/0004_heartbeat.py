"""Stage heartbeats.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_heartbeat",
        sa.Column("stage", sa.String(32), primary_key=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_item_ms", sa.BigInteger(), nullable=True),
        sa.Column("hearing", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stage_heartbeat")
