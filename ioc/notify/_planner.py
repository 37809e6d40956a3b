"""What to send, to whom and when: from alert transitions and, on a timer, from the alerts still
open. Every plan carries a key naming the message uniquely (alert, reason, level, route, person,
channel), so planning again after a restart adds nothing: a message is recorded once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from ioc.domain import Alert, AlertState, AlertTransition, NotificationKind, PlannedNotification
from ioc.domain import TransitionKind as Kind
from ioc.notify._config import Channel, NotifyConfig, Route
from ioc.notify._hold import NO_HOLD, FlapHold
from ioc.notify._routing import Router
from ioc.reports import Period, due_period

# A root incident is announced when it opens, when it stands alone again (its own root
# resolved), and when a maintenance window stops covering it: all under one key, so only once.
_ANNOUNCE = {Kind.FIRED, Kind.PROMOTED, Kind.UNSILENCED}


def report_key(report_id: str, period: Period, person_id: str) -> str:
    """The key of one scheduled report for one period to one person (by e-mail)."""
    return f"report:{report_id}:{period.start_ms}-{period.end_ms}:{person_id}:email"


def parse_report_key(key: str) -> tuple[str, Period]:
    """The report id and period a `report_key` names."""
    _kind, report_id, span, _person, _channel = key.split(":")
    start, end = span.split("-")
    return report_id, Period(int(start), int(end))


class Planner:
    """Turns alerts, and the calendar, into planned notifications."""

    def __init__(self, config: NotifyConfig, router: Router, hold: FlapHold = NO_HOLD) -> None:
        self._config = config
        self._router = router
        self._hold = hold

    def flapping_over(self, transition: AlertTransition) -> str | None:
        """The device a transition says is stable again (its flapping alert resolved)."""
        alert = transition.alert
        stable = transition.kind is Kind.RESOLVED and alert.rule_id in self._hold.flapping_rules
        return alert.device_id if stable else None

    def for_stable(
        self, flapping: Alert, open_on_device: Iterable[Alert], now_ms: int
    ) -> list[PlannedNotification]:
        """A device stable again after flapping: each outage alert of it still open, whose
        notifications were held while it flapped, is announced afresh (once per episode)."""
        planned = []
        for alert in open_on_device:
            if alert.root_id is None and not alert.silenced and self._hold.holds(alert.rule_id):
                planned += self._plan(
                    alert, NotificationKind.FIRED, now_ms, reason=f"stable{flapping.id}"
                )
        return planned

    def for_transition(self, transition: AlertTransition) -> list[PlannedNotification]:
        """The messages a transition calls for (its alert as the transition left it)."""
        alert = transition.alert
        if alert.root_id is not None or alert.silenced:
            return []  # told through its root, or under maintenance
        if transition.kind in _ANNOUNCE and alert.state is not AlertState.RESOLVED:
            # Sent after the grouping wait, so an outage's affected devices are in it.
            due = max(alert.opened_at_ms, transition.at_ms) + self._group_wait_ms
            return self._plan(alert, NotificationKind.FIRED, due)
        if transition.kind is Kind.RESOLVED:
            return self._plan(alert, NotificationKind.RESOLVED, transition.at_ms)
        return []

    def for_open(self, open_alerts: Iterable[Alert], now_ms: int) -> list[PlannedNotification]:
        """Escalations and repeats due by now for roots still firing and unacknowledged."""
        planned = []
        for alert in open_alerts:
            if alert.root_id is not None or alert.silenced or alert.state is not AlertState.FIRING:
                continue
            age_s = (now_ms - alert.opened_at_ms) / 1000
            for route in self._router.routes_for(alert):
                for level, step in enumerate(route.escalate, start=1):
                    if age_s >= step.after:
                        planned += self._to(
                            alert, route, step.notify, NotificationKind.ESCALATED,
                            f"escalated{level}", now_ms,
                        )  # fmt: skip
                if route.repeat is not None and age_s >= route.repeat:
                    rounds = int(age_s // route.repeat)
                    planned += self._to(
                        alert, route, route.notify, NotificationKind.REPEATED,
                        f"repeated{rounds}", now_ms,
                    )  # fmt: skip
        return planned

    def for_reports(self, now_ms: int) -> list[PlannedNotification]:
        """Each scheduled report due now, to each of its people: the same period plans the
        same keys, so a report goes out once per period (and after a restart, not again)."""
        planned = []
        for report in self._config.spec.reports:
            period = due_period(report.every, report.at, self._config.zone, now_ms)
            for person_id in self._recipients(report.to):
                planned.append(PlannedNotification(
                    report_key(report.id, period, person_id), NotificationKind.REPORT, None,
                    person_id, Channel.EMAIL, now_ms, report.id,
                ))  # fmt: skip
        return planned

    def _recipients(self, targets: Iterable[str]) -> list[str]:
        people: list[str] = []
        for target in targets:
            team = self._config.teams.get(target)
            for person_id in team.members if team is not None else [target]:
                if person_id not in people:
                    people.append(person_id)
        return people

    @property
    def _group_wait_ms(self) -> int:
        return round(self._config.spec.limits.group_wait * 1000)

    def _plan(
        self, alert: Alert, kind: NotificationKind, due_ms: int, reason: str | None = None
    ) -> list[PlannedNotification]:
        reason = reason or kind.value
        resolved = kind is NotificationKind.RESOLVED
        planned = []
        for route in self._router.routes_for(alert):
            if resolved and not route.send_resolved:
                continue
            # Whoever was on duty when it opened: the shift then, not the shift now.
            planned += self._to(
                alert, route, route.notify, kind, reason, due_ms, alert.opened_at_ms
            )
            if resolved:  # everyone an escalation may have reached hears it is over
                for step in route.escalate:
                    planned += self._to(alert, route, step.notify, kind, reason, due_ms)
        return planned

    def _to(
        self,
        alert: Alert,
        route: Route,
        target: str,
        kind: NotificationKind,
        reason: str,
        due_ms: int,
        at_ms: int | None = None,
    ) -> list[PlannedNotification]:
        moment = datetime.fromtimestamp((at_ms if at_ms is not None else due_ms) / 1000, UTC)
        return [
            PlannedNotification(
                key=f"alert{alert.id}:{reason}:{route.id}:{who.person.id}:{channel.value}",
                kind=kind,
                alert_id=alert.id,
                person_id=who.person.id,
                channel=channel.value,
                due_ms=due_ms,
                via=f"{route.id}/{who.via}",
            )
            for who in self._router.recipients(target, moment)
            for channel in who.channels
        ]
