"""Alerts: what rules conclude about a device, and how an alert moves through its life."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """ITU-T X.733 perceived severity of an alarm (cleared is an alert's state, not a level)."""

    WARNING = "warning"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Higher is worse: warning 1 ... critical 4."""
        return _RANK[self]


_RANK = {Severity.WARNING: 1, Severity.MINOR: 2, Severity.MAJOR: 3, Severity.CRITICAL: 4}


class AlertState(StrEnum):
    """Where an alert is in its life."""

    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class SignalKind(StrEnum):
    """What a rule says about one device."""

    RAISE = "raise"  # the condition started to hold
    UPDATE = "update"  # it still holds, with a new severity or new facts
    CLEAR = "clear"  # it stopped holding


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What an alert needs to know about the rule that raised it."""

    id: str
    title_vi: str
    title_en: str
    message_vi: str
    message_en: str
    severity: Severity
    probable_cause: str
    event_type: str
    outage: bool = False


@dataclass(frozen=True, slots=True)
class RuleSignal:
    """A rule's conclusion about one device at one instant; the alert book acts on it."""

    kind: SignalKind
    rule: RuleInfo
    device_id: str
    at_ms: int
    severity: Severity
    facts: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alert:
    """One occurrence of a rule's condition on one device, from firing to resolved."""

    id: int
    rule_id: str
    device_id: str
    device_class: str
    area_id: str
    severity: Severity
    probable_cause: str
    event_type: str
    state: AlertState
    title_vi: str
    title_en: str
    message_vi: str
    message_en: str
    facts: Mapping[str, object]
    opened_at_ms: int
    updated_at_ms: int
    root_id: int | None = None
    silenced: bool = False
    acknowledged_by: str | None = None
    resolved_at_ms: int | None = None

    @property
    def is_open(self) -> bool:
        """Not yet resolved."""
        return self.state is not AlertState.RESOLVED


@dataclass(frozen=True, slots=True)
class AlertSpan:
    """An alert's life as reports read it: opened, first acknowledged, resolved."""

    id: int
    rule_id: str
    device_id: str
    opened_at_ms: int
    resolved_at_ms: int | None
    acknowledged_at_ms: int | None


class TransitionKind(StrEnum):
    """An entry in an alert's audit history."""

    FIRED = "fired"
    UPDATED = "updated"
    ACKNOWLEDGED = "acknowledged"
    NOTE = "note"
    RESOLVED = "resolved"
    GROUPED = "grouped"  # now caused by an upstream alert
    PROMOTED = "promoted"  # its root cleared while it stays open: a root of its own
    SILENCED = "silenced"  # a maintenance window began to cover it
    UNSILENCED = "unsilenced"  # no window covers it any more


@dataclass(frozen=True, slots=True)
class AlertTransition:
    """One audit event of one alert: what happened, when, by whom; published on MQTT."""

    kind: TransitionKind
    alert: Alert
    at_ms: int
    actor: str
    note: str = ""


class WindowScope(StrEnum):
    """What a maintenance window covers."""

    DEVICE = "device"  # the device and everything that depends on it
    AREA = "area"  # every device in the area's subtree
    RULE = "rule"  # every alert of one rule


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A planned period in which alerts are recorded but marked silenced, not notified."""

    id: int
    scope: WindowScope
    target: str
    starts_at_ms: int
    ends_at_ms: int
    reason: str
    created_by: str
    ended_at_ms: int | None = None

    def active(self, now_ms: int) -> bool:
        """In force at this instant (not ended early)."""
        end = (
            self.ends_at_ms if self.ended_at_ms is None else min(self.ends_at_ms, self.ended_at_ms)
        )
        return self.starts_at_ms <= now_ms < end


class AlertAction(StrEnum):
    """What an operator can do to an open alert."""

    ACKNOWLEDGE = "ack"
    RESOLVE = "resolve"
    NOTE = "note"


class ActionOutcome(StrEnum):
    """What came of an operator's action."""

    DONE = "done"
    QUEUED = "queued"  # no rules process took it in time; it runs when one does
    UNKNOWN_ALERT = "unknown_alert"
    NOT_OPEN = "not_open"
    REFUSED = "refused"  # not possible as the alert stands (already acknowledged, empty note)


@dataclass(frozen=True, slots=True)
class LoggedTransition:
    """A transition from the log: its id, the alert as the transition left it, and as now."""

    event_id: int
    transition: AlertTransition
    current: Alert
