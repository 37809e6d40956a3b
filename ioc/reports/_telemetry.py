"""Figures read from telemetry: a metric's readings summed up per group."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ioc.domain import Device, MetricSummary


def summaries_by_group(
    devices: Iterable[Device],
    summaries: Mapping[str, MetricSummary],
    group_of: Callable[[Device], list[str]],
) -> dict[str, MetricSummary]:
    """Each group's devices' summaries merged (a group with no reading has none)."""
    grouped: dict[str, MetricSummary] = {}
    for device in devices:
        found = summaries.get(device.id)
        if found is None:
            continue
        for key in group_of(device):
            held = grouped.get(key)
            grouped[key] = found if held is None else held.merge(found)
    return grouped
