"""Availability over a period, from what ioc records: outage alerts and maintenance windows.

Time is handled as sorted [start, end) pairs in one sweep each: the `portion` library gave the
same figures but took 15 s for a month of 100,000 devices and 200,000 outages, this 3.5 s
(bench/reports.py).

Definitions (docs/reports.md):

- A device is *counted* from the period's start, or from when it entered the inventory if
  later, to the period's end.
- It is *out* while any of its outage alerts is open (the rules marked `outage`, and
  `device.down`): from when the alert opened to when it was resolved, or to the period's end.
  Overlapping alerts count once.
- Outage time inside a maintenance window that covers the alert (its rule, an area the device
  is in, the device or a device it depends on) is *maintenance*, shown apart; the rest is
  *outage*.
- Availability = 1 - outage / (counted - maintenance): planned work neither counts against a
  device nor for it.
- An *outage* (the count) is a stretch of time out (overlapping or touching alerts joined),
  with some of it outside maintenance.
- MTTA and MTTR: per outage, not per alert: the mean time from an outage's start to the first
  acknowledgement of any of its alerts, and to its end, over the outages that began in the
  period (those acknowledged, or over, by the period's end); each with how many outages it
  rests on.
- A period is counted up to the moment it is counted at (`Period.up_to`): the future is
  neither up nor down.
- Only *watched* time is counted (`Watched`): while the rules judged devices and heard the
  broker, and after the device was first heard. The rest is *unmonitored*: no data, neither up
  nor down, shown apart.
"""

from __future__ import annotations

import bisect
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

from ioc.alerts import covering
from ioc.domain import (
    AlertSpan,
    Area,
    BadInput,
    Conflict,
    Device,
    Inventory,
    MaintenanceWindow,
    NotFound,
    local_text,
    said,
)


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in epoch ms; `asked_end_ms` is the end asked for when the period was cut
    at the moment it was counted (`up_to`)."""

    start_ms: int
    end_ms: int
    asked_end_ms: int | None = None

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise BadPeriod(said("a period must end after it starts"))

    def up_to(self, now_ms: int, zone: tzinfo) -> Period:
        """The period as it can be counted at `now_ms`: cut there if it reaches past it (what
        has not happened is neither up nor down); ReportError if it has not begun (its times
        told in `zone`)."""
        if self.start_ms >= now_ms:
            raise ReportError(
                f"the period begins {local_text(self.start_ms, zone)}, after now "
                f"({local_text(now_ms, zone)}): nothing has happened in it yet"
            )
        if self.end_ms <= now_ms:
            return self
        return Period(self.start_ms, now_ms, asked_end_ms=self.end_ms)

    def bounds(self, zone: tzinfo) -> tuple[str, str]:
        """Its start and end to the minute in `zone`: 2026-11-01 00:00+07:00,
        2026-12-01 00:00+07:00."""
        return local_text(self.start_ms, zone), local_text(self.end_ms, zone)


@dataclass(frozen=True, slots=True)
class Watched:
    """What ioc watched: the spells in which the rules judged devices while hearing the broker
    ([start, end) pairs), and when each device was first heard (a device never heard is not in
    it)."""

    spells: Sequence[tuple[int, int]]
    first_heard: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Availability:
    """The figures of one device, or of a group of devices summed."""

    key: str  # the device, area, class or tag the figures are for
    devices: int
    counted_ms: int
    outage_ms: int  # out, outside maintenance
    maintenance_ms: int  # out inside a maintenance window
    outages: int
    mtta_ms: float | None
    mttr_ms: float | None
    acknowledged_outages: int = 0  # the outages MTTA is the mean of
    ended_outages: int = 0  # the outages MTTR is the mean of
    unmonitored_ms: int = 0  # in the period, not watched: no data (not in counted_ms)
    name: str = ""  # how people call the group (an area's or a device's name); its key if unset

    @property
    def availability(self) -> float | None:
        """The share of the counted (watched) time, maintenance set aside, that the devices
        were up (None when nothing was counted: no data)."""
        basis = self.counted_ms - self.maintenance_ms
        return None if basis <= 0 else 1 - self.outage_ms / basis

    def moment_row(self) -> dict[str, object]:
        """As exported for a moment (figures over a 1 ms period: each time is a count of
        devices): how many were counted, online, out, out in maintenance, and unwatched."""
        return {
            "group": self.key,
            "name": self.name or self.key,
            "devices": self.devices,
            "online": self.counted_ms - self.outage_ms - self.maintenance_ms,
            "out": self.outage_ms,
            "in_maintenance": self.maintenance_ms,
            "no_data": self.unmonitored_ms,
        }

    def row(self) -> dict[str, object]:
        """As exported (JSON, CSV): times in minutes, availability in percent."""
        share = self.availability
        return {
            "group": self.key,
            "name": self.name or self.key,
            "devices": self.devices,
            "availability_pct": None if share is None else round(share * 100, 3),
            "outages": self.outages,
            "outage_min": _minutes(self.outage_ms),
            "maintenance_min": _minutes(self.maintenance_ms),
            "counted_min": _minutes(self.counted_ms),
            "unmonitored_min": _minutes(self.unmonitored_ms),
            "mtta_min": None if self.mtta_ms is None else _minutes(self.mtta_ms),
            "mtta_outages": self.acknowledged_outages,
            "mttr_min": None if self.mttr_ms is None else _minutes(self.mttr_ms),
            "mttr_outages": self.ended_outages,
        }


@dataclass(slots=True)
class _Sums:
    counted_ms: int = 0
    unmonitored_ms: int = 0
    outage_ms: int = 0
    maintenance_ms: int = 0
    outages: int = 0
    to_acknowledge: list[int] = field(default_factory=list)  # per outage begun in the period
    to_end: list[int] = field(default_factory=list)

    def add(self, other: _Sums) -> None:
        """Sum a device's figures into a group's."""
        self.counted_ms += other.counted_ms
        self.unmonitored_ms += other.unmonitored_ms
        self.outage_ms += other.outage_ms
        self.maintenance_ms += other.maintenance_ms
        self.outages += other.outages
        self.to_acknowledge += other.to_acknowledge
        self.to_end += other.to_end


@dataclass(slots=True)
class _Stretch:
    """Time out: overlapping or touching outage alerts joined; `end_ms` None while open."""

    start_ms: int
    end_ms: int | None
    acknowledged_ms: int | None

    def joins(self, span: AlertSpan) -> bool:
        return self.end_ms is None or span.opened_at_ms <= self.end_ms

    def take(self, span: AlertSpan) -> None:
        ends = (self.end_ms, span.resolved_at_ms)
        self.end_ms = None if None in ends else max(self.end_ms or 0, span.resolved_at_ms or 0)
        acks = [t for t in (self.acknowledged_ms, span.acknowledged_at_ms) if t is not None]
        self.acknowledged_ms = min(acks) if acks else None


def _stretches(alerts: Iterable[AlertSpan]) -> list[_Stretch]:
    """The device's outages as whole stretches of time, by start (not cut to any period)."""
    stretches: list[_Stretch] = []
    for span in sorted(alerts, key=lambda a: a.opened_at_ms):
        if stretches and stretches[-1].joins(span):
            stretches[-1].take(span)
        else:
            stretches.append(_Stretch(span.opened_at_ms, span.resolved_at_ms,
                                      span.acknowledged_at_ms))  # fmt: skip
    return stretches


def availability(
    devices: Iterable[Device],
    period: Period,
    alerts: Iterable[AlertSpan],
    windows: Sequence[MaintenanceWindow],
    inventory: Inventory,
    group_of: Callable[[Device], Iterable[str]],
    watched: Watched,
) -> list[Availability]:
    """Figures per group (`group_of` names each device's groups: `by_device`, `by_area`,
    `by_class`, `by_tag`, `overall`), groups in name order; `alerts` are the outage alerts
    that overlap the period; only what was `watched` is counted."""
    alerts_of: dict[str, list[AlertSpan]] = defaultdict(list)
    for alert in alerts:
        alerts_of[alert.device_id].append(alert)
    sums: dict[str, _Sums] = defaultdict(_Sums)
    counts: dict[str, int] = defaultdict(int)
    spells = _union(list(watched.spells))
    # Most devices were heard before the period and count from its start: one cut serves all.
    cut = functools.lru_cache(maxsize=4096)(lambda begin: _within(spells, begin, period.end_ms))
    for device in devices:
        own = alerts_of.get(device.id, [])
        monitored = _monitored(device, period, cut, watched.first_heard)
        figures = _figures(device, own, windows, inventory, monitored)
        for group in group_of(device):
            sums[group].add(figures)
            counts[group] += 1 if figures.counted_ms or figures.unmonitored_ms else 0
    return [
        Availability(
            group,
            counts[group],
            total.counted_ms,
            total.outage_ms,
            total.maintenance_ms,
            total.outages,
            _mean(total.to_acknowledge),
            _mean(total.to_end),
            len(total.to_acknowledge),
            len(total.to_end),
            total.unmonitored_ms,
        )
        for group, total in sorted(sums.items())
    ]


def _monitored(
    device: Device,
    period: Period,
    watched_from: Callable[[int], list[tuple[int, int]]],
    first_heard: Mapping[str, int],
) -> tuple[int, int, list[tuple[int, int]]]:
    """Where the device counts ([start, end): in the period and the inventory) and the part of
    it watched (`watched_from(t)`: the spells from t to the period's end), once it was heard."""
    start = max(period.start_ms, device.since_ms or period.start_ms)
    heard = first_heard.get(device.id)
    if start >= period.end_ms or heard is None:
        return start, period.end_ms, []
    return start, period.end_ms, watched_from(max(start, heard))


def _figures(
    device: Device,
    alerts: Sequence[AlertSpan],
    windows: Sequence[MaintenanceWindow],
    inventory: Inventory,
    monitored: tuple[int, int, list[tuple[int, int]]],
) -> _Sums:
    start, end, watched = monitored
    if start >= end:
        return _Sums()
    sums = _Sums(counted_ms=_length(watched))
    sums.unmonitored_ms = end - start - sums.counted_ms
    if not watched:
        return sums
    planned: list[tuple[int, int]] = []
    covers: dict[str, list[MaintenanceWindow]] = {}
    for alert in alerts:
        spell = clipped(alert, start, end)
        if spell[0] >= spell[1] or not windows:
            continue
        if alert.rule_id not in covers:
            covers[alert.rule_id] = covering(windows, device.id, alert.rule_id, inventory)
        for window in covers[alert.rule_id]:
            planned.append((max(spell[0], window.starts_at_ms), min(spell[1], _window_end(window))))
    inside = _intersect(_union(planned), watched)  # each piece lies within one piece of `out`
    seen = [s for s in _stretches(alerts) if s.start_ms < end and (s.end_ms or end) > start]
    pieces = [_within(watched, max(s.start_ms, start), min(s.end_ms or end, end)) for s in seen]
    out = [piece for watched_part in pieces for piece in watched_part]
    sums.maintenance_ms = _length(inside)
    sums.outage_ms = _length(out) - sums.maintenance_ms
    covered = iter(_covered(out, inside))
    for stretch, watched_part in zip(seen, pieces, strict=True):
        unplanned = False
        for _ in watched_part:
            (begin, finish), planned_ms = next(covered)
            unplanned |= planned_ms < finish - begin
        if not unplanned:
            continue  # wholly planned, or wholly unwatched: no outage seen
        sums.outages += 1
        if stretch.start_ms < start:
            continue  # begun before the period: its response times belong to another
        if stretch.acknowledged_ms is not None and stretch.acknowledged_ms < end:
            sums.to_acknowledge.append(stretch.acknowledged_ms - stretch.start_ms)
        if stretch.end_ms is not None and stretch.end_ms < end:
            sums.to_end.append(stretch.end_ms - stretch.start_ms)
    return sums


def _window_end(window: MaintenanceWindow) -> int:
    """A window ended early by an operator ends then."""
    if window.ended_at_ms is None:
        return window.ends_at_ms
    return min(window.ends_at_ms, window.ended_at_ms)


def _union(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint [start, end) stretches covering the same time (touching ones joined)."""
    merged: list[tuple[int, int]] = []
    for begin, end in sorted(p for p in pairs if p[0] < p[1]):
        if merged and begin <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((begin, end))
    return merged


def _within(stretches: list[tuple[int, int]], begin: int, end: int) -> list[tuple[int, int]]:
    """The parts of sorted, disjoint `stretches` inside [begin, end)."""
    inside = []
    for index in range(bisect.bisect_right(stretches, begin, key=lambda s: s[1]), len(stretches)):
        first, last = stretches[index]
        if first >= end:
            break
        inside.append((max(first, begin), min(last, end)))
    return [piece for piece in inside if piece[0] < piece[1]]


def _intersect(
    first: list[tuple[int, int]], second: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The time both cover (each sorted and disjoint)."""
    both: list[tuple[int, int]] = []
    i = j = 0
    while i < len(first) and j < len(second):
        begin, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if begin < end:
            both.append((begin, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return both


def _covered(
    stretches: list[tuple[int, int]], inside: list[tuple[int, int]]
) -> Iterator[tuple[tuple[int, int], int]]:
    """Each stretch with how much of it `inside` covers (both sorted and disjoint; every piece
    of `inside` lies within one stretch)."""
    pieces = iter(inside)
    piece = next(pieces, None)
    for stretch in stretches:
        covered = 0
        while piece is not None and piece[0] < stretch[1]:
            covered += piece[1] - piece[0]
            piece = next(pieces, None)
        yield stretch, covered


def clipped(span: AlertSpan, start_ms: int, end_ms: int) -> tuple[int, int]:
    """When the alert held, within [start, end) (empty when start >= end)."""
    return max(span.opened_at_ms, start_ms), min(span.resolved_at_ms or end_ms, end_ms)


def union_length(pairs: Iterable[tuple[int, int]]) -> int:
    """How long the [start, end) pairs cover, overlaps once."""
    return _length(_union(list(pairs)))


def _length(stretches: list[tuple[int, int]]) -> int:
    return sum(end - begin for begin, end in stretches)


def _minutes(ms: float) -> float:
    return round(ms / 60_000, 2)


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def by_device(device: Device) -> list[str]:
    """Each device on its own."""
    return [device.id]


def by_class(device: Device) -> list[str]:
    """Per device class."""
    return [device.device_class]


def by_tag(device: Device) -> list[str]:
    """Per tag (a programme group); a device with several tags counts in each."""
    return sorted(device.tags)


def overall(_device: Device) -> list[str]:
    """All devices together."""
    return ["all"]


def by_area(
    inventory: Inventory, kind: str | None = None, on_map: Inventory | None = None
) -> Callable[[Device], list[str]]:
    """Per area: each device counts in its area and every area above it (of `kind` only,
    when given: commune, district...); with `on_map`, in the area it stood in on that older
    map (`placed`)."""

    def areas(device: Device) -> list[str]:
        path = placed(device, inventory, on_map)
        return [area.id for area in path if kind is None or area.kind == kind]

    return areas


def group_names(
    name: str, inventory: Inventory, on_map: Inventory | None = None
) -> Callable[[str], str]:
    """How people call the groups of a grouping: an area by its name (on `on_map` when
    given), a device by its name; a class, a tag or `all` by its key."""
    if name == "device":
        return lambda key: inventory.devices[key].name if key in inventory.devices else key
    if name in ("class", "tag", "all"):
        return lambda key: key
    areas = {**inventory.areas, **(on_map.areas if on_map is not None else {})}
    return lambda key: areas[key].name if key in areas else key


def placed(device: Device, inventory: Inventory, on_map: Inventory | None) -> tuple[Area, ...]:
    """The areas a device stands in, from the top: on `on_map` (an older version of the
    inventory: a report by the map before a reform) when the device was on it, else now."""
    if on_map is not None:
        then = on_map.devices.get(device.id)
        if then is not None:
            return on_map.area_path(then.area_id)
    return inventory.area_path(device.area_id)


class ReportError(BadInput):
    """A report cannot be made as asked (the message says why)."""


class BadPeriod(ReportError, ValueError):
    """A period that ends before it starts (a ValueError too: a value that cannot be)."""


class UnknownMeeting(ReportError, NotFound):
    """No meeting with that id (a mistake in what was asked, and nothing to find)."""


class MeetingClosed(Conflict):
    """The meeting has no report as it stands: cancelled, or not begun."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Which devices a report covers: an area's subtree, a class, a tag (all that are set)."""

    area: str | None = None
    device_class: str | None = None
    tag: str | None = None
    # The map devices are placed on by area: the inventory in effect at this time (before a
    # reform: the old communes and districts); None: the inventory in force.
    map_at_ms: int | None = None

    def devices(self, inventory: Inventory, on_map: Inventory | None = None) -> list[Device]:
        """The inventory's devices in scope (by the area they stood in on `on_map`, when
        given); ReportError for an area the map does not have."""
        areas = None
        if self.area is not None:
            chart = on_map or inventory
            if self.area not in chart.areas:
                raise ReportError(said("no area {area!r} in the inventory", area=self.area))
            areas = chart.subtree(self.area)
        return [
            d
            for d in inventory.devices.values()
            if (areas is None or placed(d, inventory, on_map)[-1].id in areas)
            and (self.device_class is None or d.device_class == self.device_class)
            and (self.tag is None or self.tag in d.tags)
        ]


def grouping(
    name: str, inventory: Inventory, on_map: Inventory | None = None
) -> Callable[[Device], list[str]]:
    """The grouping a report asks for by name: device, area, class, tag, all, or an area kind
    of the inventory (commune, district...), areas on `on_map` when given; ReportError for
    another."""
    fixed: dict[str, Callable[[Device], list[str]]] = {
        "device": by_device, "area": by_area(inventory, None, on_map), "class": by_class,
        "tag": by_tag, "all": overall,
    }  # fmt: skip
    if name in fixed:
        return fixed[name]
    kinds = sorted({area.kind for area in (on_map or inventory).areas.values()})
    if name in kinds:
        return by_area(inventory, name, on_map)
    raise ReportError(
        said(
            "cannot group by {name!r}: choose {known}", name=name, known=", ".join([*fixed, *kinds])
        )
    )
