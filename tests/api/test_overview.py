"""The overview's counts and programme figures from the inventory and the open alerts."""

from __future__ import annotations

from ioc.api import RuleRoles, compute_overview
from ioc.domain import Alert, AlertState, Inventory, Severity

ROLES = RuleRoles(
    down=frozenset({"device.down"}),
    power=frozenset({"bts.mains_failure"}),
    link=frozenset({"netgw.wan_down"}),
)


def _alert(alert_id: int, rule: str, device: str, inventory: Inventory) -> Alert:
    d = inventory.devices[device]
    return Alert(
        alert_id, rule, device, d.device_class, d.area_id, Severity.MAJOR, "x", "y",
        AlertState.FIRING, "", "", "", "", {}, 0, 0,
    )  # fmt: skip


def test_counts_and_figures(small_inventory: Inventory) -> None:
    alerts = [
        _alert(1, "netgw.wan_down", "gw1", small_inventory),
        _alert(2, "device.down", "vc1", small_inventory),
        _alert(3, "bts.mains_failure", "bts2", small_inventory),
        _alert(4, "bts.door_open", "bts2", small_inventory),
        _alert(5, "device.down", "bts1", small_inventory),
    ]
    overview = compute_overview(small_inventory, alerts, ROLES)
    assert overview["classes"] == {
        "netgw": {"total": 2, "down": 0, "alerting": 1},
        "bts": {"total": 2, "down": 1, "alerting": 2},
        "vc": {"total": 2, "down": 1, "alerting": 1},
    }
    areas = {a["id"]: a for a in overview["areas"]}  # type: ignore[attr-defined]
    assert (areas["P"]["total"], areas["P"]["down"], areas["P"]["alerting"]) == (6, 2, 4)
    assert (areas["C2"]["total"], areas["C2"]["down"], areas["C2"]["alerting"]) == (3, 0, 1)
    assert overview["figures"] == {
        "vc_online_by_area_kind": {"commune": {"online": 1, "total": 2}},
        "bts_power": {"total": 2, "on_mains": 0, "on_battery": 1, "down": 1},
        "commune_links": {"total": 2, "up": 1},
    }


def test_nothing_open_is_everything_up(small_inventory: Inventory) -> None:
    figures = compute_overview(small_inventory, [], ROLES)["figures"]
    assert figures["commune_links"] == {"total": 2, "up": 2}  # type: ignore[index]
    assert figures["bts_power"]["on_mains"] == 2  # type: ignore[index]
