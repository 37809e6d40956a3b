"""Meetings of the video-conference network and their participating points.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("starts_at_ms", sa.BigInteger, nullable=False),
        sa.Column("ends_at_ms", sa.BigInteger, nullable=False),
        sa.Column("points", sa.Text, nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("cancelled_at_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_meeting_starts_at_ms", "meeting", ["starts_at_ms"])


def downgrade() -> None:
    op.drop_index("ix_meeting_starts_at_ms", "meeting")
    op.drop_table("meeting")
