"""The lease's length, written by its holder, so `ioc status` judges the cluster by the nodes'
own setting rather than by the reader's.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cluster_lease") as table:
        table.add_column(sa.Column("lease_ms", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cluster_lease") as table:
        table.drop_column("lease_ms")
