"""Telemetry figures per group: each device's readings of a metric merged, the mean weighted
by the readings behind it."""

from __future__ import annotations

from ioc.domain import Inventory, MetricSummary
from ioc.reports import by_area, by_device, overall, summaries_by_group


def test_merging_weights_the_mean_by_readings() -> None:
    merged = MetricSummary(3, 2.0, 1.0, 4.0).merge(MetricSummary(1, 10.0, 10.0, 10.0))
    assert merged == MetricSummary(4, 4.0, 1.0, 10.0)


def test_summaries_per_group(small_inventory: Inventory) -> None:
    bts = [d for d in small_inventory.devices.values() if d.device_class == "bts"]
    found = {
        "bts1": MetricSummary(3, 50.0, 46.5, 53.0),
        "bts2": MetricSummary(1, 52.0, 52.0, 52.0),
        "gw1": MetricSummary(9, 1.0, 1.0, 1.0),  # not in scope
    }
    assert summaries_by_group(bts, found, overall) == {"all": MetricSummary(4, 50.5, 46.5, 53.0)}
    assert summaries_by_group(bts, {"bts2": found["bts2"]}, by_device) == {"bts2": found["bts2"]}
    by_areas = summaries_by_group(bts, found, by_area(small_inventory))
    assert by_areas["P"] == MetricSummary(4, 50.5, 46.5, 53.0)  # the province holds both
    assert by_areas["C1"] == found["bts1"]
    assert summaries_by_group(bts, {}, overall) == {}
