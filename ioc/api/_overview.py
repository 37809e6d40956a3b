"""The overview: counts per class and area, and the programme's figures as provinces report
them, derived from the inventory and the open alerts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ioc.domain import Alert, Inventory, Severity


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


def device_status(open_alerts: Iterable[Alert], roles: RuleRoles) -> dict[str, DeviceStatus]:
    """Devices with anything open, and how they stand; the others are up with nothing open."""
    down: set[str] = set()
    worst: dict[str, Severity] = {}
    for alert in open_alerts:
        if alert.rule_id in roles.down:
            down.add(alert.device_id)
        current = worst.get(alert.device_id)
        if current is None or alert.severity.rank > current.rank:
            worst[alert.device_id] = alert.severity
    return {device: DeviceStatus(device in down, severity) for device, severity in worst.items()}


UP = DeviceStatus(False, None)


def compute_overview(
    inventory: Inventory, open_alerts: Iterable[Alert], roles: RuleRoles
) -> dict[str, object]:
    """Counts and figures; a device is down with an open absence alert, alerting with any."""
    down: set[str] = set()
    alerting: set[str] = set()
    on_power_failure: set[str] = set()
    link_down: set[str] = set()
    for alert in open_alerts:
        alerting.add(alert.device_id)
        if alert.rule_id in roles.down:
            down.add(alert.device_id)
        if alert.rule_id in roles.power:
            on_power_failure.add(alert.device_id)
        if alert.rule_id in roles.link:
            link_down.add(alert.device_id)
    classes: dict[str, dict[str, int]] = {}
    areas: dict[str, dict[str, int]] = {}
    vc_by_kind: dict[str, dict[str, int]] = {}
    bts = {"total": 0, "on_mains": 0, "on_battery": 0, "down": 0}
    links = {"total": 0, "up": 0}
    for device in inventory.devices.values():
        is_down = device.id in down
        counts = classes.setdefault(device.device_class, {"total": 0, "down": 0, "alerting": 0})
        _count(counts, is_down, device.id in alerting)
        for area in inventory.area_path(device.area_id):
            _count(
                areas.setdefault(area.id, {"total": 0, "down": 0, "alerting": 0}),
                is_down,
                device.id in alerting,
            )
        if device.device_class == "vc":
            kind = inventory.areas[device.area_id].kind
            figure = vc_by_kind.setdefault(kind, {"online": 0, "total": 0})
            figure["total"] += 1
            figure["online"] += not is_down
        elif device.device_class == "bts":
            bts["total"] += 1
            if is_down:
                bts["down"] += 1
            elif device.id in on_power_failure:
                bts["on_battery"] += 1
            else:
                bts["on_mains"] += 1
        elif device.device_class == "netgw":
            links["total"] += 1
            links["up"] += not is_down and device.id not in link_down
    return {
        "classes": classes,
        "areas": [
            {
                "id": area_id,
                "name": inventory.areas[area_id].name,
                "kind": inventory.areas[area_id].kind,
                **counts,
            }
            for area_id, counts in areas.items()
        ],
        "figures": {
            "vc_online_by_area_kind": vc_by_kind,
            "bts_power": bts,
            "commune_links": links,
        },
    }


def _count(counts: dict[str, int], is_down: bool, is_alerting: bool) -> None:
    counts["total"] += 1
    counts["down"] += is_down
    counts["alerting"] += is_alerting
