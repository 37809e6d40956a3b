"""Alerts and their transitions as JSON: what MQTT subscribers and `ioc alerts --json` read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ioc.domain import Alert, AlertTransition, TransitionKind, iso_utc

if TYPE_CHECKING:
    from ioc.alerts._operations import AlertDetail


def alert_json(alert: Alert) -> dict[str, object]:
    """The alert as JSON for the CLI, MQTT and the API."""
    return {
        "id": alert.id,
        "rule": alert.rule_id,
        "device_id": alert.device_id,
        "device_class": alert.device_class,
        "area_id": alert.area_id,
        "state": alert.state.value,
        "severity": alert.severity.value,
        "probable_cause": alert.probable_cause,
        "event_type": alert.event_type,
        "title": {"vi": alert.title_vi, "en": alert.title_en},
        "message": {"vi": alert.message_vi, "en": alert.message_en},
        "facts": dict(alert.facts),
        "root_id": alert.root_id,
        "silenced": alert.silenced,
        "acknowledged_by": alert.acknowledged_by,
        "opened_at": iso_utc(alert.opened_at_ms),
        "updated_at": iso_utc(alert.updated_at_ms),
        "resolved_at": iso_utc(alert.resolved_at_ms) if alert.resolved_at_ms is not None else None,
    }


def transition_json(transition: AlertTransition) -> dict[str, object]:
    """A transition as published: what happened, and the alert as it now is."""
    alert = transition.alert
    return {
        "event": transition.kind.value,
        "at": iso_utc(transition.at_ms),
        "actor": transition.actor,
        "note": transition.note,
        # Whether a person should hear of it: a root, not silenced, still open or just resolved.
        "notify": alert.root_id is None and not alert.silenced,
        "alert": alert_json(alert),
    }


def detail_json(detail: AlertDetail) -> dict[str, object]:
    """One alert as `ioc alerts show --json` prints it: the alert with every time of its life
    (raised, first acknowledged, resolved), its history and the open alerts grouped under it."""
    acknowledged = next(
        (t.at_ms for t in detail.history if t.kind is TransitionKind.ACKNOWLEDGED), None
    )
    return alert_json(detail.alert) | {
        "acknowledged_at": None if acknowledged is None else iso_utc(acknowledged),
        "history": [
            {"event": t.kind.value, "at": iso_utc(t.at_ms), "actor": t.actor, "note": t.note}
            for t in detail.history
        ],
        "children": [alert_json(child) for child in detail.children],
    }
