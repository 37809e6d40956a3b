"""The live inventory: each version with who recorded it, when, why and what it changed, and
now and then the whole document (a version is read from the snapshot before it and the
changes after).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_version",
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("recorded_at_ms", sa.BigInteger, nullable=False),
        sa.Column("effective_at_ms", sa.BigInteger, nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("summary", sa.String(200), nullable=False),
        sa.Column("file_digest", sa.String(64), nullable=True),
        sa.Column("changes", sa.LargeBinary, nullable=False),
        sa.Column("snapshot", sa.LargeBinary, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("inventory_version")
