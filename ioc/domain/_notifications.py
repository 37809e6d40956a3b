"""Notifications: one message to one person on one channel, tracked from queued to sent."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NotificationKind(StrEnum):
    """Why a message is sent."""

    FIRED = "fired"  # a root incident opened (its affected devices listed)
    ESCALATED = "escalated"  # still unacknowledged after a route's `after`
    REPEATED = "repeated"  # still open and unacknowledged after the repeat interval
    RESOLVED = "resolved"
    SUMMARY = "summary"  # what a person's rate limit held back in an hour
    REPORT = "report"  # a scheduled report for a week or month just ended


class NotificationStatus(StrEnum):
    """Where a notification stands."""

    QUEUED = "queued"  # recorded, waiting for its time or its next attempt
    SENDING = "sending"  # an attempt began (a crash here means it is retried)
    SENT = "sent"
    FAILED = "failed"  # refused, or out of attempts
    HELD = "held"  # over the person's rate limit: counted into the hour's summary
    SKIPPED = "skipped"  # no longer worth sending (acknowledged, resolved, nothing held)


@dataclass(frozen=True, slots=True)
class PlannedNotification:
    """A notification to record; the key makes recording it twice a no-op."""

    key: str
    kind: NotificationKind
    alert_id: int | None
    person_id: str
    channel: str
    due_ms: int
    via: str  # the route, team or rotation it came through


@dataclass(frozen=True, slots=True)
class Notification:
    """A recorded notification and its delivery so far."""

    id: int
    key: str
    kind: NotificationKind
    alert_id: int | None
    person_id: str
    channel: str
    via: str
    status: NotificationStatus
    attempts: int
    created_at_ms: int
    due_ms: int
    sent_at_ms: int | None = None
    last_error: str | None = None
    body: str | None = None


@dataclass(frozen=True, slots=True)
class AckClaim:
    """What a valid acknowledgement link says: this person may acknowledge this alert."""

    alert_id: int
    person_id: str
    person_name: str
