"""Meetings: which points take part, whether each is ready, and afterwards who was connected
for how long.

A point is *ready* when none of its readiness alerts is open: an outage (it cannot be
reached), `vc.not_registered`, `vc.sip_unreachable` (it cannot join) or `vc.path_degraded` (its
link's quality). The meeting report is availability over the meeting's own period, point by
point: connected minutes, drops (outages during the meeting), and the quality alerts it had.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from ioc.domain import (
    Alert,
    AlertSpan,
    Inventory,
    MaintenanceWindow,
    Meeting,
    MetricSummary,
    RuleInfo,
    RuleSignal,
    Severity,
    SignalKind,
    local_text,
    said,
)
from ioc.reports._availability import (
    Period,
    ReportError,
    Scope,
    Watched,
    availability,
    by_device,
)
from ioc.reports._incidents import incidents

READINESS_RULES = frozenset({"vc.not_registered", "vc.sip_unreachable", "vc.path_degraded"})
QUALITY_RULES = ("vc.poor_quality", "vc.call_loss", "vc.call_jitter", "vc.path_degraded")
READY_LEAD_MS = 30 * 60_000  # the readiness board opens this long before the start


def choose_points(
    inventory: Inventory,
    area: str | None = None,
    device_class: str | None = None,
    points: Sequence[str] | None = None,
) -> tuple[tuple[str, ...], str]:
    """The participating points and how they were chosen: a list, or (no list given) the
    devices of a class (video-conference endpoints, `vc`, by default) in an area's subtree. An
    empty list is refused: it must not silently mean every point of the province."""
    if points is not None:
        if not points:
            raise ReportError(said("the list of points is empty: name them, or give an area"))
        if area is not None or device_class is not None:
            raise ReportError(said("give either a list of points, or an area and/or a class"))
        unknown = [p for p in points if p not in inventory.devices]
        if unknown:
            raise ReportError(said("not in the inventory: {points}", points=", ".join(unknown)))
        return tuple(dict.fromkeys(points)), f"list of {len(set(points))}"
    chosen = Scope(area, device_class or "vc").devices(inventory)
    if not chosen:
        raise ReportError(said("no point in that scope: nothing to meet with"))
    described = " ".join(
        f"{kind} {value}" for kind, value in (("area", area), ("class", device_class or "vc"))
        if value is not None
    )  # fmt: skip
    return tuple(sorted(d.id for d in chosen)), described


@dataclass(frozen=True, slots=True)
class PointReadiness:
    """One point before a meeting: ready, or the alerts that keep it from being."""

    device_id: str
    ready: bool
    reasons: tuple[str, ...]  # rule ids of its open readiness alerts


def readiness(
    meeting: Meeting, open_alerts: Iterable[Alert], outage_rules: Collection[str]
) -> list[PointReadiness]:
    """Each point of the meeting, by id."""
    blocking = READINESS_RULES | set(outage_rules)
    reasons: dict[str, set[str]] = {}
    for alert in open_alerts:
        if alert.rule_id in blocking:
            reasons.setdefault(alert.device_id, set()).add(alert.rule_id)
    return [
        PointReadiness(p, p not in reasons, tuple(sorted(reasons.get(p, ()))))
        for p in sorted(meeting.points)
    ]


# The worst quality a point had during a meeting: column -> (metric, which end of it).
WORST_QUALITY = {
    "worst_loss_pct": ("loss_pct", "maximum"),
    "worst_jitter_ms": ("jitter_ms", "maximum"),
    "lowest_mos": ("mos", "minimum"),
}


def meeting_rows(
    meeting: Meeting,
    spans: Iterable[AlertSpan],
    windows: Sequence[MaintenanceWindow],
    inventory: Inventory,
    outage_rules: Collection[str],
    quality: Mapping[str, Mapping[str, MetricSummary]],
    watched: Watched,
) -> list[dict[str, object]]:
    """Per point: connected minutes, drops, minutes out (planned or not), minutes nobody
    watched (no data: neither connected nor out), quality alerts and the worst quality figures
    during the meeting; `spans` hold its outage and quality alerts, `quality` each
    WORST_QUALITY metric's readings by point."""
    period = Period(meeting.starts_at_ms, meeting.ends_at_ms)
    points = [inventory.devices[p] for p in meeting.points if p in inventory.devices]
    spans = list(spans)
    outages = [s for s in spans if s.rule_id in outage_rules]
    outage = {
        f.key: f
        for f in availability(points, period, outages, windows, inventory, by_device, watched)
    }
    alerts = {
        i.key: i for i in incidents(points, period, spans, by_device, {"quality": QUALITY_RULES})
    }
    rows = []
    for point in sorted(outage):
        figures = outage[point]
        out_ms = figures.outage_ms + figures.maintenance_ms
        rows.append({
            "point": point,
            "connected_min": round((figures.counted_ms - out_ms) / 60_000, 2),
            "meeting_min": round((figures.counted_ms + figures.unmonitored_ms) / 60_000, 2),
            "drops": figures.outages,
            "out_min": round(out_ms / 60_000, 2),
            "no_data_min": round(figures.unmonitored_ms / 60_000, 2),
            "quality_alerts": alerts[point].opened["quality"] if point in alerts else 0,
        })  # fmt: skip
        for column, (metric, end) in WORST_QUALITY.items():
            found = quality.get(metric, {}).get(point)
            rows[-1][column] = None if found is None else round(getattr(found, end), 2)
    return rows


ALERT_LEAD_MS = 15 * 60_000  # a point not ready this long before the start raises an alert
MEETING_RULE = RuleInfo(
    id="meeting.point_not_ready",
    title_vi="Điểm cầu chưa sẵn sàng cho cuộc họp",
    title_en="Point not ready for a meeting",
    message_vi="{device_name}: chưa sẵn sàng cho cuộc họp «{meeting}» lúc {starts} ({reasons})",
    message_en="{device_name}: not ready for the meeting «{meeting}» at {starts} ({reasons})",
    severity=Severity.MAJOR,
    probable_cause="callSetUpFailure",
    event_type="communicationsAlarm",
)


def readiness_signals(
    meetings: Iterable[Meeting],
    open_alerts: Sequence[Alert],
    outage_rules: Collection[str],
    now_ms: int,
    zone: tzinfo,
) -> list[RuleSignal]:
    """From 15 minutes before a meeting until its end, raise `meeting.point_not_ready` for each
    of its points that is not ready, and clear it once the point is ready, the meeting is over
    or cancelled (`meetings`: those not cancelled around now; `open_alerts`: all)."""
    held = {a.device_id for a in open_alerts if a.rule_id == MEETING_RULE.id}
    wanted: dict[str, dict[str, object]] = {}
    for meeting in meetings:
        if not meeting.starts_at_ms - ALERT_LEAD_MS <= now_ms < meeting.ends_at_ms:
            continue
        for point in readiness(meeting, open_alerts, outage_rules):
            if not point.ready and point.device_id not in wanted:
                wanted[point.device_id] = {
                    "meeting_id": meeting.id, "meeting": meeting.title,
                    "starts": local_text(meeting.starts_at_ms, zone),
                    "reasons": ", ".join(point.reasons),
                }  # fmt: skip
    raised = [
        RuleSignal(SignalKind.RAISE, MEETING_RULE, device, now_ms, MEETING_RULE.severity, facts)
        for device, facts in sorted(wanted.items())
        if device not in held
    ]
    cleared = [
        RuleSignal(SignalKind.CLEAR, MEETING_RULE, device, now_ms, MEETING_RULE.severity)
        for device in sorted(held - set(wanted))
    ]
    return raised + cleared
