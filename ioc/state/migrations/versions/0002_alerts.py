"""Alerts, their audit events, operator requests, maintenance windows and saved rule state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_Id = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    """The alert tables as they first shipped (long: one statement per table and index)."""
    op.create_table(
        "alert",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("device_class", sa.String(64), nullable=False),
        sa.Column("area_id", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("probable_cause", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("title_vi", sa.Text(), nullable=False),
        sa.Column("title_en", sa.Text(), nullable=False),
        sa.Column("message_vi", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("opened_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("root_id", _Id, nullable=True),
        sa.Column("silenced", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_by", sa.String(128), nullable=True),
    )
    op.create_index("ix_alert_state", "alert", ["state"])
    op.create_index("ix_alert_opened_at_ms", "alert", ["opened_at_ms"])
    op.create_index("ix_alert_root_id", "alert", ["root_id"])
    op.create_index(
        "ux_alert_open_rule_device",
        "alert",
        ["rule_id", "device_id"],
        unique=True,
        sqlite_where=sa.text("state != 'resolved'"),
        postgresql_where=sa.text("state != 'resolved'"),
    )
    op.create_table(
        "alert_event",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("alert_id", _Id, sa.ForeignKey("alert.id"), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
    )
    op.create_index("ix_alert_event_alert_id", "alert_event", ["alert_id"])
    op.create_table(
        "maintenance_window",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("starts_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("ends_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("ended_at_ms", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_maintenance_window_ends_at_ms", "maintenance_window", ["ends_at_ms"])
    op.create_table(
        "alert_request",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("alert_id", _Id, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("done_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
    )
    op.create_index("ix_alert_request_done_at_ms", "alert_request", ["done_at_ms"])
    op.create_table(
        "rule_state",
        sa.Column("rule_id", sa.String(64), primary_key=True),
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("data", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rule_state")
    op.drop_index("ix_alert_request_done_at_ms", table_name="alert_request")
    op.drop_table("alert_request")
    op.drop_index("ix_maintenance_window_ends_at_ms", table_name="maintenance_window")
    op.drop_table("maintenance_window")
    op.drop_index("ix_alert_event_alert_id", table_name="alert_event")
    op.drop_table("alert_event")
    op.drop_index("ux_alert_open_rule_device", table_name="alert")
    op.drop_index("ix_alert_root_id", table_name="alert")
    op.drop_index("ix_alert_opened_at_ms", table_name="alert")
    op.drop_index("ix_alert_state", table_name="alert")
    op.drop_table("alert")
