"""Meetings from the runtime: planned into the state database, their readiness from the open
alerts, their report from the alert history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ioc.app._reports import first_metric, metric_readings, watched_during
from ioc.app._runtime import Runtime
from ioc.domain import Caller, Meeting, MetricSummary, audited, iso_utc, local_text, said
from ioc.reports import (
    QUALITY_RULES,
    WORST_QUALITY,
    MeetingClosed,
    Period,
    PointReadiness,
    ReportError,
    UnknownMeeting,
    choose_points,
    meeting_rows,
    readiness,
)

MAX_DURATION_MS = 24 * 3_600_000


class MeetingDesk:
    """Plans, lists, cancels meetings; says which points are ready and how a meeting went."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._catalogs = runtime.catalogs
        self._store = runtime.meetings()
        self._alerts = runtime.alerts()
        self._audit = runtime.audit()
        # The outage rules in force: a reload changes what keeps a point from being ready.
        self._outage = runtime.rules.derive(
            lambda rules: frozenset(r.info.id for r in rules if r.info.outage)
        )

    def plan(
        self,
        title: str,
        starts_at_ms: int,
        duration_ms: int,
        caller: Caller,
        area: str | None = None,
        device_class: str | None = None,
        points: Sequence[str] | None = None,
        *,
        now_ms: int,
    ) -> Meeting:
        """Record a meeting with its points, in the audit trail too (ReportError: a bad scope,
        title or duration, or a meeting over before it is planned: its alerts and board would
        never be seen)."""
        if not title.strip():
            raise ReportError(said("a meeting needs a title"))
        if not 0 < duration_ms <= MAX_DURATION_MS:
            raise ReportError(said("a meeting lasts more than nothing and at most 24 hours"))
        if starts_at_ms + duration_ms <= now_ms:
            ended = local_text(starts_at_ms + duration_ms, self._runtime.settings.zone)
            raise ReportError(
                said("that meeting is over already (it ended {end}): nothing to plan", end=ended)
            )
        chosen, scope = choose_points(self._catalogs.get().inventory, area, device_class, points)
        ends_at_ms = starts_at_ms + duration_ms
        meeting = self._store.add(
            Meeting(0, title.strip(), starts_at_ms, ends_at_ms, chosen, scope, caller.name)
        )
        after = {
            "title": meeting.title, "starts_at": iso_utc(meeting.starts_at_ms),
            "ends_at": iso_utc(meeting.ends_at_ms), "points": len(meeting.points),
            "scope": meeting.scope,
        }  # fmt: skip
        self._audit.record(
            audited(caller, now_ms, "meeting.plan", f"meeting #{meeting.id}", None, after)
        )
        return meeting

    def between(self, start_ms: int, end_ms: int) -> list[Meeting]:
        """Meetings not cancelled overlapping [start, end)."""
        return self._store.between(start_ms, end_ms)

    def get(self, meeting_id: int) -> Meeting:
        """A meeting (ReportError if there is none)."""
        meeting = self._store.get(meeting_id)
        if meeting is None:
            raise UnknownMeeting(said("no meeting {id}", id=meeting_id))
        return meeting

    def cancel(self, meeting_id: int, now_ms: int, caller: Caller) -> bool:
        """Cancel it, in the audit trail too; False if there is none or it was cancelled
        already."""
        cancelled = self._store.cancel(meeting_id, now_ms)
        if cancelled:
            target = f"meeting #{meeting_id}"
            was, now = {"cancelled": False}, {"cancelled": True}
            self._audit.record(audited(caller, now_ms, "meeting.cancel", target, was, now))
        return cancelled

    def readiness(self, meeting_id: int) -> tuple[Meeting, list[PointReadiness]]:
        """Each point: ready, or the open alerts that keep it from being."""
        meeting = self.get(meeting_id)
        return meeting, readiness(meeting, self._alerts.open_alerts(), self._outage.get())

    def report(self, meeting_id: int, now_ms: int) -> tuple[Meeting, list[dict[str, object]]]:
        """How each point did during the meeting, up to now while it is under way (ReportError
        for a meeting cancelled or not begun: there is nothing to report)."""
        meeting = self.get(meeting_id)
        if meeting.cancelled_at_ms is not None:
            raise MeetingClosed(
                said("meeting #{id} was cancelled: it has no report", id=meeting_id)
            )
        if meeting.starts_at_ms >= now_ms:
            starts = local_text(meeting.starts_at_ms, self._runtime.settings.zone)
            raise MeetingClosed(
                said("meeting #{id} has not begun (it starts {start})", id=meeting_id, start=starts)
            )
        meeting = replace(meeting, ends_at_ms=min(meeting.ends_at_ms, now_ms))
        rules = sorted(self._outage.get() | set(QUALITY_RULES))
        spans = self._alerts.spans(rules, meeting.starts_at_ms, meeting.ends_at_ms)
        windows = self._alerts.windows_between(meeting.starts_at_ms, meeting.ends_at_ms)
        quality = self._quality(meeting)
        period = Period(meeting.starts_at_ms, meeting.ends_at_ms)
        return meeting, meeting_rows(
            meeting, spans, windows, self._catalogs.get().inventory, self._outage.get(), quality,
            watched_during(self._runtime, period),
        )  # fmt: skip

    def _quality(self, meeting: Meeting) -> dict[str, dict[str, MetricSummary]]:
        """Each WORST_QUALITY metric's readings during the meeting, by point (StoreError
        when the telemetry store cannot answer)."""
        inventory = self._catalogs.get().inventory
        points = [inventory.devices[p] for p in meeting.points if p in inventory.devices]
        period = Period(meeting.starts_at_ms, meeting.ends_at_ms)
        return {
            metric: metric_readings(self._runtime, points, period, first_metric(metric))
            for metric, _end in WORST_QUALITY.values()
        }
