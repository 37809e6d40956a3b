"""How often and for how long alerts of chosen rules held, per group over a period: the BTS
power report (mains failures, hours on battery, generator hours) and the links report
(flapping episodes) are such tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from ioc.domain import AlertSpan, Device
from ioc.reports._availability import Period, union_length

HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Incidents:
    """Per column (a named set of rules): how many alerts opened in the period, and how long
    any of them held (overlaps once) inside it, summed over a group's devices."""

    key: str
    devices: int
    opened: Mapping[str, int]
    held_ms: Mapping[str, int]
    name: str = ""  # how people call the group; its key if unset

    def row(self) -> dict[str, object]:
        """As exported: per column its count, and `<column>_h` in hours."""
        row: dict[str, object] = {
            "group": self.key,
            "name": self.name or self.key,
            "devices": self.devices,
        }
        for column, count in self.opened.items():
            row[column] = count
            row[f"{column}_h"] = round(self.held_ms[column] / HOUR_MS, 2)
        return row


def incidents(
    devices: Iterable[Device],
    period: Period,
    spans: Iterable[AlertSpan],
    group_of: Callable[[Device], Iterable[str]],
    columns: Mapping[str, Collection[str]],
) -> list[Incidents]:
    """Per group (named as in `availability`), for each column of rule ids; a device counts
    from when it entered the inventory."""
    spans_of: dict[str, list[AlertSpan]] = defaultdict(list)
    for span in spans:
        spans_of[span.device_id].append(span)
    counts: dict[str, int] = defaultdict(int)
    opened: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(columns, 0))
    held: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(columns, 0))
    for device in devices:
        start = max(period.start_ms, device.since_ms or period.start_ms)
        if start >= period.end_ms:
            continue
        own = spans_of.get(device.id, [])
        figures = {}
        for column, rule_ids in columns.items():
            chosen = [s for s in own if s.rule_id in rule_ids]
            figures[column] = (
                sum(1 for s in chosen if start <= s.opened_at_ms < period.end_ms),
                union_length(
                    (
                        max(s.opened_at_ms, start),
                        min(s.resolved_at_ms or period.end_ms, period.end_ms),
                    )
                    for s in chosen
                ),
            )
        for group in group_of(device):
            counts[group] += 1
            for column, (count, ms) in figures.items():
                opened[group][column] += count
                held[group][column] += ms
    return [Incidents(group, counts[group], opened[group], held[group]) for group in sorted(counts)]
