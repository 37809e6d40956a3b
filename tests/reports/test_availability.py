"""Availability figures against hand arithmetic: outages, maintenance set apart, devices that
entered the inventory during the period, grouping by area, class and tag, MTTA and MTTR."""

from __future__ import annotations

import dataclasses

import pytest

from ioc.domain import (
    AlertSpan,
    Inventory,
    MaintenanceWindow,
    WindowScope,
)
from ioc.i18n import Speech
from ioc.reports import (
    Availability,
    Period,
    ReportError,
    Watched,
    availability,
    by_area,
    by_class,
    by_device,
    by_tag,
    overall,
    period_text,
)
from tests.support.clock import UTC, VIETNAM

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_793_491_200_000  # 2026-11-01T00:00Z
NOVEMBER = Period(T0, T0 + 30 * DAY)


def watched_throughout(inventory: Inventory) -> Watched:
    """ioc watched from well before the month to well after it, every device heard early."""
    return Watched([(T0 - 40 * DAY, T0 + 80 * DAY)], dict.fromkeys(inventory.devices, T0 - DAY))


def at(day: int, hour: float) -> int:
    return T0 + day * DAY + int(hour * HOUR)


def span(n: int, device: str, opened: int, resolved: int | None, acked: int | None = None,
         rule: str = "device.down") -> AlertSpan:  # fmt: skip
    return AlertSpan(n, rule, device, opened, resolved, acked)


def window(n: int, scope: WindowScope, target: str, starts: int, ends: int) -> MaintenanceWindow:
    return MaintenanceWindow(n, scope, target, starts, ends, "planned work", "operator")


def figures(
    inventory: Inventory,
    alerts: list[AlertSpan],
    windows: list[MaintenanceWindow] | None = None,
    period: Period = NOVEMBER,
) -> dict[str, Availability]:
    found = availability(
        inventory.devices.values(), period, alerts, windows or [], inventory, by_device,
        watched_throughout(inventory),
    )  # fmt: skip
    return {f.key: f for f in found}


def test_an_outage_partly_inside_a_window_counts_only_its_unplanned_part(
    small_inventory: Inventory,
) -> None:
    # 90 minutes out, 30 of them inside a window on the device.
    alerts = [span(1, "gw1", at(3, 10), at(3, 11.5))]
    windows = [window(1, WindowScope.DEVICE, "gw1", at(3, 11), at(3, 13))]
    gw1 = figures(small_inventory, alerts, windows)["gw1"]
    assert (gw1.counted_ms, gw1.outage_ms, gw1.maintenance_ms, gw1.outages) == (
        30 * DAY, 60 * MIN, 30 * MIN, 1,
    )  # fmt: skip
    assert gw1.availability == pytest.approx(1 - 60 * MIN / (30 * DAY - 30 * MIN))
    # Devices behind gw1, directly or through gw2, are covered by its window too.
    behind = [span(2, "bts1", at(3, 10), at(3, 11.5)), span(3, "bts2", at(3, 10), at(3, 11.5))]
    bts = figures(small_inventory, behind, windows)
    assert (bts["bts1"].outage_ms, bts["bts1"].maintenance_ms) == (60 * MIN, 30 * MIN)
    assert (bts["bts2"].outage_ms, bts["bts2"].maintenance_ms) == (60 * MIN, 30 * MIN)
    # A window on gw2 covers what is behind gw2, not bts1 (behind gw1 only).
    on_gw2 = [window(2, WindowScope.DEVICE, "gw2", at(3, 11), at(3, 13))]
    bts = figures(small_inventory, behind, on_gw2)
    assert (bts["bts1"].outage_ms, bts["bts1"].maintenance_ms) == (90 * MIN, 0)
    assert (bts["bts2"].outage_ms, bts["bts2"].maintenance_ms) == (60 * MIN, 30 * MIN)


def test_overlapping_alerts_count_once_and_an_open_one_until_the_end(
    small_inventory: Inventory,
) -> None:
    alerts = [
        span(1, "gw1", at(1, 8), at(1, 9), rule="netgw.wan_down"),
        span(2, "gw1", at(1, 8.5), at(1, 10)),  # overlaps: one outage, 8:00 to 10:00
        span(3, "gw1", at(1, 10), at(1, 11)),  # begins as it ends: still the same outage
        span(4, "gw1", at(29, 23), None),  # still open at the end of the month
        span(5, "gw1", T0 - DAY, T0 + HOUR),  # began before the month: its part inside
    ]
    gw1 = figures(small_inventory, alerts)["gw1"]
    assert gw1.outage_ms == 3 * HOUR + HOUR + HOUR
    assert gw1.outages == 3
    quiet = figures(small_inventory, alerts)["vc1"]
    assert (quiet.outage_ms, quiet.outages, quiet.availability) == (0, 0, 1.0)


def test_a_window_ended_early_and_a_rule_window_and_an_area_window(
    small_inventory: Inventory,
) -> None:
    alerts = [
        span(1, "gw1", at(5, 0), at(5, 4)),
        span(2, "vc1", at(6, 0), at(6, 4), rule="vc.jitter_high"),
        span(3, "vc2", at(7, 0), at(7, 4)),
    ]
    ended = dataclasses.replace(
        window(1, WindowScope.DEVICE, "gw1", at(5, 0), at(5, 4)), ended_at_ms=at(5, 1)
    )
    windows = [
        ended,  # ended by an operator after an hour
        window(2, WindowScope.RULE, "vc.jitter_high", at(6, 0), at(6, 2)),
        window(3, WindowScope.AREA, "C2", at(7, 3), at(7, 6)),
    ]
    found = figures(small_inventory, alerts, windows)
    assert (found["gw1"].outage_ms, found["gw1"].maintenance_ms) == (3 * HOUR, HOUR)
    assert (found["vc1"].outage_ms, found["vc1"].maintenance_ms) == (2 * HOUR, 2 * HOUR)
    assert (found["vc2"].outage_ms, found["vc2"].maintenance_ms) == (3 * HOUR, HOUR)
    # Wholly planned: no outage to count.
    planned = window(4, WindowScope.DEVICE, "gw1", at(5, 0), at(5, 4))
    assert figures(small_inventory, alerts[:1], [planned])["gw1"].outages == 0


def test_a_device_counts_from_when_it_entered_the_inventory(small_inventory: Inventory) -> None:
    late = dataclasses.replace(small_inventory.devices["vc2"], since_ms=at(15, 12))
    future = dataclasses.replace(small_inventory.devices["bts2"], since_ms=at(40, 0))
    devices = [late, future]
    found = availability(
        devices, NOVEMBER, [], [], small_inventory, by_device, watched_throughout(small_inventory)
    )
    assert [(f.key, f.devices, f.counted_ms) for f in found] == [
        ("bts2", 0, 0), ("vc2", 1, 14 * DAY + 12 * HOUR),
    ]  # fmt: skip
    assert found[0].availability is None  # nothing counted: no figure


def test_groups_sum_their_devices(small_inventory: Inventory) -> None:
    alerts = [
        span(1, "gw1", at(2, 0), at(2, 2), acked=at(2, 0.25)),
        span(2, "bts2", at(2, 0), at(2, 1), acked=at(2, 0.75)),
        span(3, "vc1", at(3, 0), None),  # never acknowledged nor resolved
    ]
    programme = frozenset({"vc-programme"})
    tagged = {
        d.id: dataclasses.replace(d, tags=programme) if d.device_class == "vc" else d
        for d in small_inventory.devices.values()
    }

    def group(group_of: object) -> dict[str, Availability]:
        found = availability(
            tagged.values(), NOVEMBER, alerts, [], small_inventory, group_of,  # type: ignore[arg-type]
            watched_throughout(small_inventory),
        )  # fmt: skip
        return {f.key: f for f in found}

    areas = group(by_area(small_inventory))
    assert set(areas) == {"P", "D1", "C1", "C2"}
    assert (areas["P"].devices, areas["P"].counted_ms) == (6, 6 * 30 * DAY)
    assert areas["C1"].outage_ms == 2 * HOUR + (27 * DAY)  # gw1, and vc1 from day 3 on
    assert areas["C2"].outage_ms == HOUR
    assert areas["P"].mtta_ms == pytest.approx(30 * MIN)  # (15 + 45) / 2 minutes
    assert areas["P"].mttr_ms == pytest.approx(90 * MIN)  # (120 + 60) / 2; vc1 not resolved
    communes = group(by_area(small_inventory, kind="commune"))
    assert set(communes) == {"C1", "C2"}
    classes = group(by_class)
    assert {k: v.devices for k, v in classes.items()} == {"bts": 2, "netgw": 2, "vc": 2}
    tags = group(by_tag)
    assert set(tags) == {"hub", "vc-programme"}  # gw1 is a hub
    assert (tags["vc-programme"].devices, tags["vc-programme"].outage_ms) == (2, 27 * DAY)
    [everything] = group(overall).values()
    assert everything.outages == 3 and everything.devices == 6


def test_a_period_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        Period(T0, T0)


def test_who_was_online_at_a_moment(small_inventory: Inventory) -> None:
    alerts = [
        span(1, "gw2", at(1, 8), at(1, 9)),
        span(2, "vc2", at(1, 8.5), None),
        span(3, "bts1", at(1, 7), at(1, 8.25)),  # over before the moment
    ]
    windows = [window(1, WindowScope.DEVICE, "vc2", at(1, 8), at(1, 10))]
    moment = at(1, 8.5)
    found = availability(
        small_inventory.devices.values(), Period(moment, moment + 1), alerts, windows,
        small_inventory, by_area(small_inventory, kind="commune"),
        watched_throughout(small_inventory),
    )  # fmt: skip
    assert [f.moment_row() for f in found] == [
        {
            "group": "C1",
            "name": "C1",
            "devices": 3,
            "online": 3,
            "out": 0,
            "in_maintenance": 0,
            "no_data": 0,
        },
        {
            "group": "C2",
            "name": "C2",
            "devices": 3,
            "online": 1,
            "out": 1,
            "in_maintenance": 1,
            "no_data": 0,
        },
    ]


def test_mtta_and_mttr_are_per_outage_not_per_alert(small_inventory: Inventory) -> None:
    """One 44 s outage with an overlapping 15 s alert is one outage of 44 s (per alert it was
    a mean of 29.5 s); acknowledging either of its alerts acknowledges the outage."""
    second = 1000
    start = at(2, 10)
    alerts = [
        span(1, "gw1", start, start + 44 * second, rule="netgw.wan_down"),
        span(2, "gw1", start + 20 * second, start + 35 * second, acked=start + 30 * second),
        # Wholly inside planned work: no outage, so not in the means either.
        span(3, "gw1", at(5, 0), at(5, 4), acked=at(5, 1)),
        # Begun before the month: an outage of the month, its response times of another.
        span(4, "gw1", T0 - HOUR, T0 + HOUR, acked=T0 - 30 * MIN),
    ]
    planned = [window(1, WindowScope.DEVICE, "gw1", at(5, 0), at(5, 4))]
    gw1 = figures(small_inventory, alerts, planned)["gw1"]
    assert (gw1.outages, gw1.mttr_ms, gw1.ended_outages) == (2, 44 * second, 1)
    assert (gw1.mtta_ms, gw1.acknowledged_outages) == (30 * second, 1)
    row = gw1.row()
    assert (row["mttr_min"], row["mttr_outages"], row["mtta_outages"]) == (0.73, 1, 1)


def test_a_period_is_counted_up_to_now() -> None:
    """A month asked for on its 6th day is counted to that moment, and says so."""
    now = at(5, 10.5)
    counted = NOVEMBER.up_to(now, UTC)
    assert (counted.start_ms, counted.end_ms, counted.asked_end_ms) == (T0, now, T0 + 30 * DAY)
    assert period_text(counted, Speech("en", UTC)) == (
        "2026-11-01 00:00Z to 2026-11-06 10:30Z (now; asked to 2026-12-01 00:00Z)"
    )
    # The same moments as people in Vietnam read them, in their language.
    assert period_text(counted, Speech("vi", VIETNAM)) == (
        "2026-11-01 07:00+07:00 đến 2026-11-06 17:30+07:00 "
        "(đến hiện tại; kỳ yêu cầu đến 2026-12-01 07:00+07:00)"
    )
    assert NOVEMBER.up_to(T0 + 40 * DAY, UTC) == NOVEMBER  # over: as asked
    with pytest.raises(ReportError, match=r"the period begins 2026-11-01 07:00\+07:00, after now"):
        NOVEMBER.up_to(T0 - 1, VIETNAM)


def test_an_open_outage_counts_up_to_now_not_to_the_end_of_the_period(
    small_inventory: Inventory,
) -> None:
    now = at(5, 12)
    alerts = [span(1, "gw1", at(5, 10), None)]
    gw1 = figures(small_inventory, alerts, period=NOVEMBER.up_to(now, UTC))["gw1"]
    assert (gw1.counted_ms, gw1.outage_ms) == (5 * DAY + 12 * HOUR, 2 * HOUR)


def test_what_ioc_did_not_watch_is_no_data_never_up(small_inventory: Inventory) -> None:
    """ioc watched 1-10 November and 20-30 November (down or blind between); vc2 was never
    heard; bts2 first spoke on the 25th. Unwatched time is neither up nor down."""
    watched = Watched(
        [(T0, at(10, 0)), (at(20, 0), T0 + 30 * DAY)],
        {d: T0 for d in small_inventory.devices if d not in ("vc2", "bts2")} | {"bts2": at(25, 0)},
    )
    alerts = [
        span(1, "gw1", at(9, 0), at(21, 0)),  # open across the gap: 1 day + 1 day seen out
        span(2, "gw2", at(12, 0), at(13, 0)),  # wholly in the gap: nothing seen
    ]
    found = {
        f.key: f
        for f in availability(small_inventory.devices.values(), NOVEMBER, alerts, [],
                              small_inventory, by_device, watched)
    }  # fmt: skip
    gw1, gw2, vc2, bts2 = found["gw1"], found["gw2"], found["vc2"], found["bts2"]
    assert (gw1.counted_ms, gw1.unmonitored_ms) == (20 * DAY, 10 * DAY)
    assert (gw1.outage_ms, gw1.outages) == (2 * DAY, 1)
    assert gw1.availability == pytest.approx(1 - 2 / 20)
    assert (gw2.outage_ms, gw2.outages, gw2.availability) == (0, 0, 1.0)
    assert (vc2.devices, vc2.counted_ms, vc2.unmonitored_ms) == (1, 0, 30 * DAY)
    assert vc2.availability is None and vc2.row()["availability_pct"] is None  # no data
    assert (bts2.counted_ms, bts2.unmonitored_ms) == (5 * DAY, 25 * DAY)
    assert gw1.row()["unmonitored_min"] == 10 * 24 * 60
    # A moment nobody watched: its devices are no data, not online.
    moment = at(15, 0)
    [everything] = availability(
        small_inventory.devices.values(), Period(moment, moment + 1), alerts, [],
        small_inventory, overall, watched,
    )  # fmt: skip
    assert everything.moment_row() == {
        "group": "all", "name": "all", "devices": 6, "online": 0, "out": 0, "in_maintenance": 0,
        "no_data": 6,
    }  # fmt: skip
