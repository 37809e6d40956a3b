"""How often and how long chosen alerts held, per group: counts of alerts opened in the period,
hours held inside it (overlaps once), devices counted from when they entered the inventory."""

from __future__ import annotations

import dataclasses

from ioc.domain import AlertSpan, Inventory
from ioc.reports import Period, by_area, by_device, incidents

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_793_491_200_000  # 2026-11-01T00:00Z
NOVEMBER = Period(T0, T0 + 30 * DAY)
POWER = {
    "mains_failures": ("bts.mains_failure",),
    "on_battery": ("bts.on_battery",),
    "generator": ("bts.generator_running",),
}


def span(n: int, rule: str, device: str, opened: int, resolved: int | None) -> AlertSpan:
    return AlertSpan(n, rule, device, opened, resolved, None)


def test_mains_failures_hours_on_battery_and_generator_hours(small_inventory: Inventory) -> None:
    spans = [
        span(1, "bts.mains_failure", "bts1", T0 + DAY, T0 + DAY + 5 * HOUR),
        span(2, "bts.on_battery", "bts1", T0 + DAY, T0 + DAY + 2 * HOUR),
        span(3, "bts.generator_running", "bts1", T0 + DAY + 2 * HOUR, T0 + DAY + 5 * HOUR),
        span(4, "bts.mains_failure", "bts1", T0 - DAY, T0 + HOUR),  # began in October
        span(5, "bts.on_battery", "bts1", T0 - DAY, T0 + HOUR),
        span(6, "bts.on_battery", "bts2", T0 + 29 * DAY + 23 * HOUR, None),  # still on battery
        span(7, "bts.on_battery", "bts2", T0 + 29 * DAY + 22 * HOUR, T0 + 29 * DAY + 23 * HOUR + 1),
        span(8, "device.down", "bts2", T0, T0 + DAY),  # not a power rule
    ]
    bts = [d for d in small_inventory.devices.values() if d.device_class == "bts"]
    rows = {i.key: i.row() for i in incidents(bts, NOVEMBER, spans, by_device, POWER)}
    assert rows["bts1"] == {
        "group": "bts1", "name": "bts1", "devices": 1,
        "mains_failures": 1, "mains_failures_h": 6.0,  # opened in November: one; held 5 + 1 h
        "on_battery": 1, "on_battery_h": 3.0,
        "generator": 1, "generator_h": 3.0,
    }  # fmt: skip
    assert (rows["bts2"]["on_battery"], rows["bts2"]["on_battery_h"]) == (2, 2.0)
    communes = incidents(bts, NOVEMBER, spans, by_area(small_inventory, "commune"), POWER)
    assert [(i.key, i.devices, i.opened["on_battery"]) for i in communes] == [
        ("C1", 1, 1), ("C2", 1, 2),
    ]  # fmt: skip


def test_a_device_that_entered_later_counts_from_then(small_inventory: Inventory) -> None:
    late = dataclasses.replace(small_inventory.devices["bts1"], since_ms=T0 + 10 * DAY)
    spans = [
        span(1, "bts.on_battery", "bts1", T0 + 9 * DAY, T0 + 10 * DAY + HOUR),
        span(2, "bts.on_battery", "bts1", T0 + 12 * DAY, T0 + 12 * DAY + HOUR),
    ]
    [figures] = incidents([late], NOVEMBER, spans, by_device, POWER)
    assert (figures.opened["on_battery"], figures.held_ms["on_battery"]) == (1, 2 * HOUR)
