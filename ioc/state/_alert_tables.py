"""The SQL tables of alerts, their audit history, maintenance windows, rule state and operator
requests, and how their rows become domain values and back."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Row

from ioc.domain import (
    Alert,
    AlertState,
    AlertTransition,
    MaintenanceWindow,
    Severity,
    WindowScope,
)
from ioc.state._db import metadata

MAX_NOTE = 2000  # characters of a note, a window's reason, a request's result kept
_Id = Integer().with_variant(BigInteger(), "postgresql")

alert_table = Table(
    "alert",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("rule_id", String(64), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("device_class", String(64), nullable=False),
    Column("area_id", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("probable_cause", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("title_vi", Text, nullable=False),
    Column("title_en", Text, nullable=False),
    Column("message_vi", Text, nullable=False),
    Column("message_en", Text, nullable=False),
    Column("facts", Text, nullable=False),
    Column("opened_at_ms", BigInteger, nullable=False),
    Column("updated_at_ms", BigInteger, nullable=False),
    Column("resolved_at_ms", BigInteger, nullable=True),
    Column("root_id", _Id, nullable=True, index=True),
    Column("silenced", Boolean, nullable=False),
    Column("acknowledged_by", String(128), nullable=True),
    Index("ix_alert_state", "state"),
    Index("ix_alert_opened_at_ms", "opened_at_ms"),
    # The database itself guarantees one open alert per (rule, device).
    Index(
        "ux_alert_open_rule_device",
        "rule_id",
        "device_id",
        unique=True,
        sqlite_where=text("state != 'resolved'"),
        postgresql_where=text("state != 'resolved'"),
    ),
)

alert_event_table = Table(
    "alert_event",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("alert_id", _Id, ForeignKey("alert.id"), nullable=False, index=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("note", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
)

maintenance_window_table = Table(
    "maintenance_window",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("scope", String(16), nullable=False),
    Column("target", String(64), nullable=False),
    Column("starts_at_ms", BigInteger, nullable=False),
    Column("ends_at_ms", BigInteger, nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("ended_at_ms", BigInteger, nullable=True),
)

rule_state_table = Table(
    "rule_state",
    metadata,
    Column("rule_id", String(64), primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("data", Text, nullable=False),
)

# How far the rules have judged each device's readings and events (saved before acknowledging
# them; 0 for none).
judged_through_table = Table(
    "judged_through",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("ts_ms", BigInteger, nullable=False),
    Column("event_ts_ms", BigInteger, nullable=False, server_default="0"),
)

alert_request_table = Table(
    "alert_request",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("alert_id", _Id, nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("note", Text, nullable=False),
    Column("requested_at_ms", BigInteger, nullable=False),
    Column("done_at_ms", BigInteger, nullable=True, index=True),
    Column("result", Text, nullable=True),
    Column("outcome", String(16), nullable=True),
)


def _alert_row(alert: Alert) -> dict[str, object]:
    return {
        "id": alert.id,
        "rule_id": alert.rule_id,
        "device_id": alert.device_id,
        "device_class": alert.device_class,
        "area_id": alert.area_id,
        "severity": alert.severity.value,
        "probable_cause": alert.probable_cause,
        "event_type": alert.event_type,
        "state": alert.state.value,
        "title_vi": alert.title_vi,
        "title_en": alert.title_en,
        "message_vi": alert.message_vi,
        "message_en": alert.message_en,
        "facts": orjson.dumps(dict(alert.facts), default=str).decode(),
        "opened_at_ms": alert.opened_at_ms,
        "updated_at_ms": alert.updated_at_ms,
        "resolved_at_ms": alert.resolved_at_ms,
        "root_id": alert.root_id,
        "silenced": alert.silenced,
        "acknowledged_by": alert.acknowledged_by[:128] if alert.acknowledged_by else None,
    }


def _alert(row: Row[object] | Mapping[str, Any]) -> Alert:
    data = row._mapping if isinstance(row, Row) else row
    return Alert(
        id=int(data["id"]),
        rule_id=data["rule_id"],
        device_id=data["device_id"],
        device_class=data["device_class"],
        area_id=data["area_id"],
        severity=Severity(data["severity"]),
        probable_cause=data["probable_cause"],
        event_type=data["event_type"],
        state=AlertState(data["state"]),
        title_vi=data["title_vi"],
        title_en=data["title_en"],
        message_vi=data["message_vi"],
        message_en=data["message_en"],
        facts=orjson.loads(data["facts"]),
        opened_at_ms=int(data["opened_at_ms"]),
        updated_at_ms=int(data["updated_at_ms"]),
        resolved_at_ms=data["resolved_at_ms"],
        root_id=data["root_id"],
        silenced=bool(data["silenced"]),
        acknowledged_by=data["acknowledged_by"],
    )


def _with_id(alert: Alert, alert_id: int) -> Alert:
    return dataclasses.replace(alert, id=alert_id)


def _event_row(transition: AlertTransition) -> dict[str, object]:
    return {
        "alert_id": transition.alert.id,
        "at_ms": transition.at_ms,
        "kind": transition.kind.value,
        "actor": transition.actor[:128],
        "note": transition.note[:MAX_NOTE],
        "state": transition.alert.state.value,
        "severity": transition.alert.severity.value,
    }


def _window(row: Row[object]) -> MaintenanceWindow:
    data = row._mapping
    return MaintenanceWindow(
        id=int(data["id"]),
        scope=WindowScope(data["scope"]),
        target=data["target"],
        starts_at_ms=int(data["starts_at_ms"]),
        ends_at_ms=int(data["ends_at_ms"]),
        reason=data["reason"],
        created_by=data["created_by"],
        ended_at_ms=data["ended_at_ms"],
    )
