"""Sending what the outbox holds: one attempt at a time per notification, retried with backoff
only when the failure is worth retrying, held back beyond a person's hourly limit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from ioc.domain import (
    Alert,
    AlertState,
    Notification,
    NotificationKind,
    NotificationStatus,
    PlannedNotification,
    Refused,
    RetryLater,
)
from ioc.i18n import Language, Speech
from ioc.notify._config import NotifyConfig, Person, ScheduledReport
from ioc.notify._hold import NO_HOLD, FlapHold
from ioc.notify._messages import Message, alert_message, summary_message
from ioc.notify._planner import parse_report_key
from ioc.reports import Period

log = logging.getLogger("ioc.notify")

MAX_ATTEMPTS = 10
HOUR_MS = 3_600_000


def backoff_s(attempts: int) -> float:
    """Seconds before the next attempt: 5, 10, 20 ... at most 10 minutes."""
    return float(min(600, 5 * 2 ** max(0, attempts - 1)))


class OutboxPort(Protocol):
    """The outbox as the deliverer uses it (the state database's Outbox)."""

    def due(self, now_ms: int, limit: int = 100) -> list[Notification]: ...
    def begin_attempt(self, notification_id: int) -> bool: ...
    def settle(
        self,
        notification_id: int,
        status: NotificationStatus,
        now_ms: int,
        error: str | None = None,
        retry_at_ms: int | None = None,
        body: str | None = None,
    ) -> None: ...
    def sent_since(self, person_id: str, since_ms: int) -> int: ...
    def was_told(self, alert_id: int, person_id: str) -> bool: ...
    def being_told(self, alert_id: int, person_id: str) -> bool: ...
    def held_between(self, person_id: str, start_ms: int, end_ms: int) -> list[Notification]: ...
    def record(
        self, planned: Sequence[PlannedNotification], now_ms: int, cursor: int | None = None
    ) -> int: ...


class AlertsPort(Protocol):
    """The alerts as the deliverer reads them (the state database's AlertRepository)."""

    def get(self, alert_id: int) -> Alert | None: ...
    def children(self, alert_id: int) -> list[Alert]: ...
    def open_on_device(self, device_id: str) -> list[Alert]: ...


ReportWriter = Callable[[ScheduledReport, Period, Language], Message]


class Sender(Protocol):
    """A channel: send one message to one person; raise RetryLater or Refused."""

    def send(self, message: Message, person: Person, key: str) -> None: ...


class Deliverer:
    """Sends due notifications through their channels and settles each."""

    def __init__(
        self,
        config: NotifyConfig,
        outbox: OutboxPort,
        alerts: AlertsPort,
        senders: Mapping[str, Sender],
        clock: Callable[[], int],
        ack_link: Callable[[int, str], str | None] | None = None,
        reports: ReportWriter | None = None,
        hold: FlapHold = NO_HOLD,
    ) -> None:
        """`reports` writes the message of a scheduled report (its figures and workbook);
        `hold` says whose notifications a flapping device holds back."""
        self._config = config
        self._outbox = outbox
        self._alerts = alerts
        self._senders = senders
        self._clock = clock
        self._ack_link = ack_link
        self._reports = reports
        self._hold = hold

    def run_once(self) -> int:
        """Attempt everything due now; how many were settled."""
        due = self._outbox.due(self._clock())
        for notification in due:
            self._deliver(notification)
        return len(due)

    def _deliver(self, notification: Notification) -> None:
        now = self._clock()
        person = self._config.people.get(notification.person_id)
        sender = self._senders.get(notification.channel)
        if person is None or sender is None:
            why = "no such person" if person is None else f"no {notification.channel} channel"
            self._outbox.settle(notification.id, NotificationStatus.FAILED, now, why)
            return
        try:
            message = self._compose(notification, person, now)
        except RetryLater as exc:  # a report's figures unreadable now, an end before its start
            if self._outbox.begin_attempt(notification.id):
                self._retry(notification, now, exc)
            return
        if isinstance(message, str):  # no longer worth telling, and why
            self._outbox.settle(notification.id, NotificationStatus.SKIPPED, now, message)
            return
        exempt = (NotificationKind.SUMMARY, NotificationKind.REPORT)  # asked for, not alarms
        if notification.kind not in exempt and self._over_limit(person, now):
            self._outbox.settle(notification.id, NotificationStatus.HELD, now)
            self._plan_summary(person, notification.channel, now)
            return
        if not self._outbox.begin_attempt(notification.id):
            return  # another sender took it: never two attempts at once
        try:
            sender.send(message, person, notification.key)
        except Refused as exc:
            self._outbox.settle(notification.id, NotificationStatus.FAILED, now, str(exc))
            log.warning("notification %s refused: %s", notification.key, exc)
        except RetryLater as exc:
            self._retry(notification, now, exc)
        else:
            self._outbox.settle(notification.id, NotificationStatus.SENT, now, body=message.text)

    def _retry(self, notification: Notification, now: int, exc: RetryLater) -> None:
        """Queue it again after a backoff, or give up after MAX_ATTEMPTS."""
        attempts = notification.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            self._outbox.settle(notification.id, NotificationStatus.FAILED, now, str(exc))
            log.warning("notification %s failed %d times: %s", notification.key, attempts, exc)
        else:
            retry_at = now + round(backoff_s(attempts) * 1000)
            self._outbox.settle(notification.id, NotificationStatus.QUEUED, now, str(exc), retry_at)

    def _compose(self, notification: Notification, person: Person, now: int) -> Message | str:
        """The message to send, or why none is (the notification is then skipped)."""
        language = person.language or self._config.spec.language
        if notification.kind is NotificationKind.SUMMARY:
            return self._summary(notification, language, now)
        if notification.kind is NotificationKind.REPORT:
            return self._report(notification, language)
        alert = self._alerts.get(notification.alert_id) if notification.alert_id else None
        if alert is None:
            return f"alert #{notification.alert_id} is no longer in the state database"
        kind = notification.kind
        flapping = self._flapping(alert)
        if flapping is not None:
            return (
                f"held while {alert.device_id} is flapping (alert #{flapping.id}): its "
                "flapping notice stands for its downs and ups until it is stable"
            )
        # A notice already attempted (cut by a takeover, or failed) may have reached them: it
        # is sent again under its key, which a receiver recognises, and the end follows it.
        if notification.attempts == 0:
            still_pressing = alert.state is AlertState.FIRING and not alert.silenced
            pressing = (NotificationKind.ESCALATED, NotificationKind.REPEATED)
            if kind in pressing and not still_pressing:
                return f"alert #{alert.id} is {_standing(alert)}: no need to escalate or repeat"
            if kind is NotificationKind.FIRED and alert.state is AlertState.RESOLVED:
                return f"alert #{alert.id} was over before the grouping wait ended"
        if kind is NotificationKind.RESOLVED and not self._outbox.was_told(alert.id, person.id):
            if self._outbox.being_told(alert.id, person.id):
                # A notice is on its way (an attempt interrupted by a takeover, or retried
                # after a failure): the end follows it instead of being dropped.
                raise RetryLater(f"{person.id} is still being told alert #{alert.id} began")
            # An end is news only to whoever heard of the start.
            return f"{person.id} was not told alert #{alert.id} began"
        children = self._alerts.children(alert.id)
        spec = self._config.spec
        ack = self._ack_link(alert.id, person.id) if self._ack_link else None
        speech = Speech(language, self._config.zone)
        return alert_message(kind, alert, children, speech, spec.link_base, ack)

    def _flapping(self, alert: Alert) -> Alert | None:
        """The open flapping alert of the alert's device that holds its notifications."""
        if not self._hold.holds(alert.rule_id):
            return None
        on_device = self._alerts.open_on_device(alert.device_id)
        return next((a for a in on_device if a.rule_id in self._hold.flapping_rules), None)

    def _report(self, notification: Notification, language: Language) -> Message | str:
        report_id, period = parse_report_key(notification.key)
        report = next((r for r in self._config.spec.reports if r.id == report_id), None)
        if report is None:
            return f"report {report_id!r} was taken out of the notification file"
        if self._reports is None:
            return "this notifier writes no reports"
        return self._reports(report, period, report.language or language)

    def _over_limit(self, person: Person, now: int) -> bool:
        limit = self._config.spec.limits.per_hour
        return self._outbox.sent_since(person.id, now - HOUR_MS) >= limit

    def _plan_summary(self, person: Person, channel: str, now: int) -> None:
        hour_end = (now // HOUR_MS + 1) * HOUR_MS
        summary = PlannedNotification(
            key=f"summary:{person.id}:{channel}:{hour_end}",
            kind=NotificationKind.SUMMARY,
            alert_id=None,
            person_id=person.id,
            channel=channel,
            due_ms=hour_end,
            via="limit",
        )
        self._outbox.record([summary], now)

    def _summary(self, notification: Notification, language: Language, now: int) -> Message | str:
        end = notification.due_ms
        held = [
            n
            for n in self._outbox.held_between(notification.person_id, end - HOUR_MS, end)
            if n.channel == notification.channel
        ]
        if not held:
            return "nothing was held back by the hourly limit"
        alert_ids = sorted({n.alert_id for n in held if n.alert_id is not None})
        return summary_message(len(held), alert_ids, Speech(language, self._config.zone))


def _standing(alert: Alert) -> str:
    if alert.silenced:
        return "under maintenance"
    return alert.state.value
