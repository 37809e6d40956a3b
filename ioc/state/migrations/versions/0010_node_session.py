"""Whether a node's ingest session may still hold messages on the broker (the leader adopts
the session of a node that died, and ends it).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cluster_node") as table:
        table.add_column(
            sa.Column("session_open", sa.Boolean, nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("cluster_node") as table:
        table.drop_column("session_open")
