"""What ioc watched: the spells the rules judged while hearing the broker, and when each device
was first heard; reports count no other time as up.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_spell",
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True),
        sa.Column("started_at_ms", sa.BigInteger, nullable=False),
        sa.Column("last_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_watch_spell_last_at_ms", "watch_spell", ["last_at_ms"])
    op.create_table(
        "device_heard",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("first_at_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("device_heard")
    op.drop_index("ix_watch_spell_last_at_ms", "watch_spell")
    op.drop_table("watch_spell")
