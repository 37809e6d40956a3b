"""The overview: counts per class and area, and the programme's figures as provinces report
them, derived from the inventory and the open alerts and kept current one device at a time."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ioc.domain import Alert, AlertSpan, Device, Inventory, Severity


@dataclass(frozen=True, slots=True)
class RuleRoles:
    """Which rules mean what for the figures (derived from the rule set in force)."""

    down: frozenset[str] = field(default_factory=frozenset)  # absence: unreachable
    power: frozenset[str] = field(default_factory=frozenset)  # commercial power failure
    link: frozenset[str] = field(default_factory=frozenset)  # outage rules that are not absence


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device's standing from its open alerts."""

    down: bool
    worst: Severity | None  # the worst severity open on it, None when nothing is
    on_power_failure: bool = False
    link_down: bool = False

    @property
    def state(self) -> str:
        """ "down" or "up", as the API and the wall show it."""
        return "down" if self.down else "up"


UP = DeviceStatus(False, None)


@dataclass(frozen=True, slots=True)
class AreaCounts:
    """An area and its devices below it: how many, how many down, how many alerting."""

    id: str
    name: str
    kind: str
    parent_id: str | None
    total: int
    down: int
    alerting: int


def device_status(open_alerts: Iterable[Alert], roles: RuleRoles) -> dict[str, DeviceStatus]:
    """Devices with anything open, and how they stand; the others are UP."""
    by_device: dict[str, list[Alert]] = {}
    for alert in open_alerts:
        by_device.setdefault(alert.device_id, []).append(alert)
    return {device: status_of(alerts, roles) for device, alerts in by_device.items()}


def status_of(open_alerts: Iterable[Alert], roles: RuleRoles) -> DeviceStatus:
    """One device's standing from its open alerts."""
    down = power = link = False
    worst: Severity | None = None
    for alert in open_alerts:
        down |= alert.rule_id in roles.down
        power |= alert.rule_id in roles.power
        link |= alert.rule_id in roles.link
        if worst is None or alert.severity.rank > worst.rank:
            worst = alert.severity
    return DeviceStatus(down, worst, power, link) if worst is not None else UP


class Overview:
    """Counts and figures, updated per device in time proportional to its area depth."""

    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self._status: dict[str, DeviceStatus] = {}
        self._classes: dict[str, dict[str, int]] = {}
        self._areas: dict[str, dict[str, int]] = {}
        self._vc_by_kind: dict[str, dict[str, int]] = {}
        self._bts = {"total": 0, "on_mains": 0, "on_battery": 0, "down": 0}
        self._links = {"total": 0, "up": 0}
        for device in inventory.devices.values():
            self._count_total(device)
            self._add(device, UP, 1)

    def status(self, device_id: str) -> DeviceStatus:
        """How a device stands now."""
        return self._status.get(device_id, UP)

    def set(self, device_id: str, status: DeviceStatus) -> bool:
        """Record a device's new standing; whether it changed."""
        old = self.status(device_id)
        if old == status:
            return False
        device = self._inventory.devices[device_id]
        self._add(device, old, -1)
        self._add(device, status, 1)
        if status == UP:
            del self._status[device_id]
        else:
            self._status[device_id] = status
        return True

    def standing(self) -> dict[str, DeviceStatus]:
        """Every device that is not plainly UP."""
        return dict(self._status)

    def as_json(self, max_area_depth: int | None = None) -> dict[str, object]:
        """Counts per class and area (areas down to a depth, 1 = the roots) and the figures."""
        areas = [dataclasses.asdict(area) for area in self.areas(max_area_depth)]
        return {"classes": self.classes(), "areas": areas, "figures": self.figures()}

    def areas(self, max_depth: int | None = None) -> list[AreaCounts]:
        """Each area with devices below it, down to a depth (1 = the roots; None = all)."""
        inventory = self._inventory
        counted = []
        for area_id, counts in self._areas.items():
            if max_depth is not None and len(inventory.area_path(area_id)) > max_depth:
                continue
            area = inventory.areas[area_id]
            counted.append(AreaCounts(area_id, area.name, area.kind, area.parent_id, **counts))
        return counted

    def classes(self) -> dict[str, dict[str, int]]:
        """Per class: devices, down, alerting."""
        return {name: dict(counts) for name, counts in self._classes.items()}

    def figures(self) -> dict[str, object]:
        """The programme's figures as provinces report them."""
        return {
            "vc_online_by_area_kind": {k: dict(v) for k, v in self._vc_by_kind.items()},
            "bts_power": dict(self._bts),
            "commune_links": dict(self._links),
        }

    def _count_total(self, device: Device) -> None:
        self._classes.setdefault(device.device_class, {"total": 0, "down": 0, "alerting": 0})
        self._classes[device.device_class]["total"] += 1
        for area in self._inventory.area_path(device.area_id):
            counts = self._areas.setdefault(area.id, {"total": 0, "down": 0, "alerting": 0})
            counts["total"] += 1
        if device.device_class == "vc":
            kind = self._inventory.areas[device.area_id].kind
            self._vc_by_kind.setdefault(kind, {"online": 0, "total": 0})["total"] += 1
        elif device.device_class == "bts":
            self._bts["total"] += 1
        elif device.device_class == "netgw":
            self._links["total"] += 1

    def _add(self, device: Device, status: DeviceStatus, sign: int) -> None:
        down, alerting = sign * status.down, sign * (status.worst is not None)
        for counts in [self._classes[device.device_class]] + [
            self._areas[area.id] for area in self._inventory.area_path(device.area_id)
        ]:
            counts["down"] += down
            counts["alerting"] += alerting
        if device.device_class == "vc":
            kind = self._inventory.areas[device.area_id].kind
            self._vc_by_kind[kind]["online"] += sign * (not status.down)
        elif device.device_class == "bts":
            if status.down:
                self._bts["down"] += sign
            elif status.on_power_failure:
                self._bts["on_battery"] += sign
            else:
                self._bts["on_mains"] += sign
        elif device.device_class == "netgw":
            self._links["up"] += sign * (not status.down and not status.link_down)


def compute_overview(
    inventory: Inventory, open_alerts: Iterable[Alert], roles: RuleRoles
) -> dict[str, object]:
    """Counts and figures; a device is down with an open absence alert, alerting with any."""
    overview = Overview(inventory)
    for device_id, status in device_status(open_alerts, roles).items():
        if device_id in inventory.devices:
            overview.set(device_id, status)
    return overview.as_json()


def status_from_rules(rule_ids: Iterable[str], roles: RuleRoles) -> DeviceStatus:
    """A device's standing from the rules of its open alerts (the trend's past moments, where
    only which alerts were open is known)."""
    ids = set(rule_ids)
    down, power, link = bool(ids & roles.down), bool(ids & roles.power), bool(ids & roles.link)
    return DeviceStatus(down, None, power, link) if down or power or link else UP


def trend(
    inventory: Inventory,
    spans: Iterable[AlertSpan],
    roles: RuleRoles,
    times_ms: Sequence[int],
) -> list[dict[str, object]]:
    """The programme's figures at each of `times_ms` (ascending): the alert history replayed
    through the same counting the wall's tiles use (links up, VC points online, BTS on
    battery, of how many)."""
    changes: list[tuple[int, int, str, str]] = []  # (at, +1 open / -1 closed, device, rule)
    for span in spans:
        gone = span.resolved_at_ms is not None and span.resolved_at_ms <= span.opened_at_ms
        if span.device_id not in inventory.devices or gone:
            continue
        changes.append((span.opened_at_ms, 1, span.device_id, span.rule_id))
        if span.resolved_at_ms is not None:
            changes.append((span.resolved_at_ms, -1, span.device_id, span.rule_id))
    changes.sort()
    overview = Overview(inventory)
    open_rules: dict[str, list[str]] = {}
    points = []
    step = 0
    for at in times_ms:
        touched = set()
        while step < len(changes) and changes[step][0] <= at:
            _at, sign, device, rule = changes[step]
            rules = open_rules.setdefault(device, [])
            if sign > 0:
                rules.append(rule)
            else:
                rules.remove(rule)
            touched.add(device)
            step += 1
        for device in touched:
            overview.set(device, status_from_rules(open_rules[device], roles))
        figures = overview.figures()
        vc = figures["vc_online_by_area_kind"]
        assert isinstance(vc, dict)
        bts, links = figures["bts_power"], figures["commune_links"]
        assert isinstance(bts, dict) and isinstance(links, dict)
        points.append({
            "at_ms": at,
            "links_up": links["up"], "links": links["total"],
            "vc_online": sum(v["online"] for v in vc.values()),
            "vc": sum(v["total"] for v in vc.values()),
            "bts_on_battery": bts["on_battery"], "bts": bts["total"],
        })  # fmt: skip
    return points
