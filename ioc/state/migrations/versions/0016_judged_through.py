"""How far the rules have judged each device's readings and events, saved before the messages
are acknowledged: a leader that takes over skips readings and redelivered events judged already
(redelivered because their acknowledgement was lost with the old leader) instead of judging
them twice.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "judged_through",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("event_ts_ms", sa.BigInteger, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("judged_through")
