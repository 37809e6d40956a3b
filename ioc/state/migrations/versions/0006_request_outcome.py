"""Operator requests record a typed outcome beside the detail text.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_request") as batch:
        batch.add_column(sa.Column("outcome", sa.String(16), nullable=True))
    # Before 0006 the result was "ok" or the refusal's text.
    op.execute("UPDATE alert_request SET outcome = 'done' WHERE result = 'ok'")
    op.execute(
        "UPDATE alert_request SET outcome = 'refused' WHERE result IS NOT NULL AND result != 'ok'"
    )


def downgrade() -> None:
    with op.batch_alter_table("alert_request") as batch:
        batch.drop_column("outcome")
