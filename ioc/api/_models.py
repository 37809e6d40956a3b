"""Response models shared by several routes, built from domain types."""

from __future__ import annotations

from pydantic import BaseModel

from ioc.domain import Alert, AlertState, Severity, iso_utc


class Localized(BaseModel):
    """A text in Vietnamese and in English."""

    vi: str
    en: str


class AlertPublic(BaseModel):
    """An alert as the API shows it."""

    id: int
    rule: str
    device_id: str
    device_class: str
    area_id: str
    state: AlertState
    severity: Severity
    probable_cause: str
    event_type: str
    title: Localized
    message: Localized
    facts: dict[str, object]
    root_id: int | None
    silenced: bool
    acknowledged_by: str | None
    opened_at: str
    updated_at: str
    resolved_at: str | None

    @classmethod
    def of(cls, alert: Alert) -> AlertPublic:
        """The public form of a domain alert."""
        return cls(
            id=alert.id,
            rule=alert.rule_id,
            device_id=alert.device_id,
            device_class=alert.device_class,
            area_id=alert.area_id,
            state=alert.state,
            severity=alert.severity,
            probable_cause=alert.probable_cause,
            event_type=alert.event_type,
            title=Localized(vi=alert.title_vi, en=alert.title_en),
            message=Localized(vi=alert.message_vi, en=alert.message_en),
            facts=dict(alert.facts),
            root_id=alert.root_id,
            silenced=alert.silenced,
            acknowledged_by=alert.acknowledged_by,
            opened_at=iso_utc(alert.opened_at_ms),
            updated_at=iso_utc(alert.updated_at_ms),
            resolved_at=iso_utc(alert.resolved_at_ms) if alert.resolved_at_ms is not None else None,
        )
