"""Meetings: the points chosen, whether each is ready, and how each did during the meeting."""

from __future__ import annotations

import pytest

from ioc.domain import (
    Alert,
    AlertSpan,
    AlertState,
    Inventory,
    MaintenanceWindow,
    Meeting,
    MetricSummary,
    Severity,
    WindowScope,
)
from ioc.reports import (
    MEETING_RULE,
    ReportError,
    Watched,
    choose_points,
    meeting_rows,
    readiness,
    readiness_signals,
)
from tests.support.clock import VIETNAM

MIN = 60_000
DAY = 24 * 60 * MIN
T0 = 1_796_004_000_000  # 2026-11-30T02:00Z: a morning meeting, 09:00 in Hanoi


def test_points_from_an_area_and_class_or_a_list(small_inventory: Inventory) -> None:
    assert choose_points(small_inventory, area="C2") == (("vc2",), "area C2 class vc")
    assert choose_points(small_inventory) == (("vc1", "vc2"), "class vc")
    assert choose_points(small_inventory, area="D1", device_class="netgw") == (
        ("gw1", "gw2"), "area D1 class netgw",
    )  # fmt: skip
    assert choose_points(small_inventory, points=["vc2", "vc1", "vc2"]) == (
        ("vc2", "vc1"), "list of 2",
    )  # fmt: skip
    with pytest.raises(ReportError, match="not in the inventory: vc9"):
        choose_points(small_inventory, points=["vc1", "vc9"])
    with pytest.raises(ReportError, match="either a list of points, or an area"):
        choose_points(small_inventory, area="C1", points=["vc1"])
    with pytest.raises(ReportError, match="no point in that scope"):
        choose_points(small_inventory, area="C1", device_class="serialgw")


def _open(rule: str, device: str) -> Alert:
    return Alert(
        0, rule, device, "vc", "C1", Severity.MAJOR, "x", "y", AlertState.FIRING,
        "", "", "", "", {}, T0, T0,
    )  # fmt: skip


def test_a_point_is_ready_unless_an_alert_keeps_it_from_being() -> None:
    meeting = Meeting(1, "Giao ban", T0, T0 + 60 * MIN, ("vc1", "vc2", "vc3"), "list of 3", "an")
    open_alerts = [
        _open("vc.not_registered", "vc2"),
        _open("device.down", "vc3"),
        _open("vc.path_degraded", "vc3"),
        _open("vc.poor_quality", "vc1"),  # quality during a call is no readiness matter
        _open("device.down", "vc9"),  # not in this meeting
    ]
    found = readiness(meeting, open_alerts, outage_rules={"device.down"})
    assert [(p.device_id, p.ready, p.reasons) for p in found] == [
        ("vc1", True, ()),
        ("vc2", False, ("vc.not_registered",)),
        ("vc3", False, ("device.down", "vc.path_degraded")),
    ]


def test_who_was_connected_for_how_long(small_inventory: Inventory) -> None:
    meeting = Meeting(1, "Giao ban", T0, T0 + 60 * MIN, ("vc1", "vc2"), "class vc", "an")
    spans = [
        AlertSpan(1, "device.down", "vc1", T0 + 10 * MIN, T0 + 15 * MIN, None),  # a drop
        AlertSpan(2, "device.down", "vc1", T0 + 40 * MIN, T0 + 42 * MIN, None),  # another
        AlertSpan(3, "vc.poor_quality", "vc1", T0 + 20 * MIN, T0 + 30 * MIN, None),
        AlertSpan(4, "device.down", "vc2", T0 - 30 * MIN, T0 + 5 * MIN, None),  # joined late
    ]
    windows = [  # vc2's link works planned until 08:03
        MaintenanceWindow(1, WindowScope.DEVICE, "vc2", T0 - 60 * MIN, T0 + 3 * MIN, "x", "y")
    ]
    quality = {  # vc2 sent no MOS during the meeting
        "loss_pct": {"vc1": MetricSummary(6, 1.5, 0.0, 7.25), "vc2": MetricSummary(5, 0, 0, 0)},
        "jitter_ms": {"vc1": MetricSummary(6, 12, 4, 31.333), "vc2": MetricSummary(5, 3, 2, 5)},
        "mos": {"vc1": MetricSummary(6, 3.9, 2.8, 4.4)},
    }
    # ioc went blind for the last 10 minutes: nobody knows who was connected then.
    watched = Watched([(T0 - 60 * MIN, T0 + 50 * MIN)], dict.fromkeys(("vc1", "vc2"), T0 - DAY))
    rows = meeting_rows(meeting, spans, windows, small_inventory, {"device.down"}, quality, watched)
    assert rows == [
        {"point": "vc1", "connected_min": 43.0, "meeting_min": 60.0, "drops": 2,
         "out_min": 7.0, "no_data_min": 10.0, "quality_alerts": 1,
         "worst_loss_pct": 7.25, "worst_jitter_ms": 31.33, "lowest_mos": 2.8},
        {"point": "vc2", "connected_min": 45.0, "meeting_min": 60.0, "drops": 1,
         "out_min": 5.0, "no_data_min": 10.0, "quality_alerts": 0,
         "worst_loss_pct": 0, "worst_jitter_ms": 5, "lowest_mos": None},
    ]  # fmt: skip


def test_readiness_alerts_from_fifteen_minutes_before_until_the_end() -> None:
    meeting = Meeting(7, "Giao ban", T0, T0 + 60 * MIN, ("vc1", "vc2"), "class vc", "an")
    not_registered = [_open("vc.not_registered", "vc2")]

    def signals(
        now: int, open_alerts: list[Alert], meetings: list[Meeting]
    ) -> list[tuple[str, str]]:
        found = readiness_signals(meetings, open_alerts, {"device.down"}, now, VIETNAM)
        return [(s.kind.value, s.device_id) for s in found]

    assert signals(T0 - 16 * MIN, not_registered, [meeting]) == []
    assert signals(T0 - 15 * MIN, not_registered, [meeting]) == [("raise", "vc2")]
    held = [*not_registered, _open(MEETING_RULE.id, "vc2")]
    assert signals(T0 + 10 * MIN, held, [meeting]) == []  # held, still not ready: nothing new
    assert signals(T0 + 60 * MIN, held, [meeting]) == [("clear", "vc2")]  # the meeting is over
    assert signals(T0, held, []) == [("clear", "vc2")]  # cancelled
    [raised] = readiness_signals([meeting], not_registered, set(), T0, VIETNAM)
    assert raised.facts == {
        "meeting_id": 7, "meeting": "Giao ban", "starts": "2026-11-30 09:00+07:00",
        "reasons": "vc.not_registered",
    }  # fmt: skip
