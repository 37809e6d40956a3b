"""The notification outbox and the notifier's place in the alert log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_Id = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("alert_id", _Id, nullable=True),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("via", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("due_ms", sa.BigInteger(), nullable=False),
        sa.Column("sent_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
    )
    op.create_index("ix_notification_alert_id", "notification", ["alert_id"])
    op.create_index("ix_notification_due_ms", "notification", ["due_ms"])
    op.create_index("ix_notification_person_id", "notification", ["person_id"])
    op.create_table(
        "notifier_cursor",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notifier_cursor")
    op.drop_table("notification")
