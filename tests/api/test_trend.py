"""The wall's trend strip: the programme's figures at past moments, from the alert history
replayed through the tiles' own counting; and its route."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ioc.api import ApiContext, RuleRoles, RulesControl, create_app
from ioc.api._overview import trend
from ioc.app import load_catalog
from ioc.config import load_settings
from ioc.domain import (
    Alert,
    AlertSpan,
    AlertState,
    Inventory,
    Role,
    Severity,
    TransitionKind,
)
from ioc.state import AlertRepository, TokenStore, connect_state

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
ROLES = RuleRoles(
    down=frozenset({"device.down"}),
    power=frozenset({"bts.mains_failure"}),
    link=frozenset({"netgw.wan_down"}),
)
MIN = 60_000
T0 = 1_796_000_000_000


def test_the_figures_at_past_moments(small_inventory: Inventory) -> None:
    spans = [
        AlertSpan(1, "netgw.wan_down", "gw2", T0 + 10 * MIN, T0 + 30 * MIN, None),
        AlertSpan(2, "bts.mains_failure", "bts1", T0 + 20 * MIN, None, None),
        AlertSpan(3, "device.down", "vc2", T0 - 60 * MIN, T0 + 15 * MIN, None),  # before
        AlertSpan(4, "device.down", "vc1", T0 + 25 * MIN, T0 + 25 * MIN, None),  # zero long
        AlertSpan(5, "device.down", "ghost", T0, None, None),  # not in the inventory
    ]
    times = [T0 + m * MIN for m in (0, 10, 20, 30)]
    found = trend(small_inventory, spans, ROLES, times)
    assert [(p["links_up"], p["vc_online"], p["bts_on_battery"]) for p in found] == [
        (2, 1, 0),  # vc2 down since before
        (1, 1, 0),  # gw2's link down
        (1, 2, 1),  # vc2 back; bts1 on battery
        (2, 2, 1),  # gw2's link back
    ]
    assert {(p["links"], p["vc"], p["bts"]) for p in found} == {(2, 2, 2)}


def test_the_route(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, inventory=SMALL_INVENTORY)
    catalog = load_catalog(settings)
    engine = connect_state(settings.resolved_state_url)
    repository = AlertRepository(engine)
    now = T0 + 60 * MIN
    repository.create(
        Alert(0, "netgw.wan_down", "gw1", "netgw", "C1", Severity.CRITICAL, "x", "y",
              AlertState.FIRING, "", "", "", "", {}, now - 25 * MIN, now - 25 * MIN),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip
    tokens = TokenStore(engine)
    _, viewer = tokens.create(Role.VIEWER, "wall", now)
    context = ApiContext(
        lambda: catalog.inventory,
        catalog.profiles,
        repository,
        tokens,
        lambda: now,
        rules=lambda: RulesControl(ROLES.down | ROLES.power | ROLES.link, ROLES),
    )
    with TestClient(create_app(context)) as client:
        answer = client.get(
            "/api/v1/overview/trend?hours=1&step_min=20",
            headers={"Authorization": f"Bearer {viewer}"},
        )
    repository.close()
    assert answer.status_code == 200
    points = answer.json()
    assert [p["at_ms"] for p in points] == [now - 60 * MIN, now - 40 * MIN, now - 20 * MIN, now]
    assert [p["links_up"] for p in points] == [2, 2, 1, 1]
