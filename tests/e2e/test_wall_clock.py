"""The wall tells one story on any clock: served by a real uvicorn whose alerts are stamped on a
clock three hours ahead of the screen's (as the demo's simulated clock is), headless Chromium
shows an incident opened two hours before as two hours old, not "0 phút"; and the trend
strip's figure of now is the tiles' own, moving with them as an outage comes and goes (it used
to wait five minutes for the strip's next fetch)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from ioc.api import ApiContext, RuleRoles, RulesControl
from ioc.app import ApiOptions, ApiServer
from ioc.broker import free_port
from ioc.config import load_settings
from ioc.domain import (
    Alert,
    AlertState,
    AlertTransition,
    Inventory,
    Profile,
    Role,
    Severity,
    TransitionKind,
    now_ms,
)
from ioc.state import AlertRepository, TokenStore, connect_state
from tests.support.browser import wait_in_page
from tests.support.clock import VIETNAM

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
AHEAD_MS = 3 * 3_600_000
ROLES = RuleRoles(
    down=frozenset({"device.down"}),
    power=frozenset({"bts.mains_failure"}),
    link=frozenset({"netgw.wan_down"}),
)


@pytest.fixture
def served(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> Iterator[tuple[str, str, AlertRepository]]:
    settings = load_settings(data_dir=tmp_path, inventory=SMALL_INVENTORY, api_port=free_port())
    engine = connect_state(settings.resolved_state_url)
    tokens = TokenStore(engine)
    _, viewer = tokens.create(Role.VIEWER, "wall", now_ms())
    alerts = AlertRepository(engine)
    context = ApiContext(
        lambda: small_inventory, profiles, alerts, tokens, lambda: now_ms() + AHEAD_MS,
        rules=lambda: RulesControl(ROLES.down | ROLES.power | ROLES.link, ROLES),
        poll_every_s=0.05, beat_every_s=0.5,
    )  # fmt: skip
    server = ApiServer(context, ApiOptions.of(settings))
    server.start()
    yield server.url, viewer, alerts
    server.stop()
    engine.dispose()


def _open(alerts: AlertRepository, rule: str, device: str, at: int) -> Alert:
    d = SMALL_DEVICES[device]
    return alerts.create(
        Alert(0, rule, device, d, "C1", Severity.CRITICAL, "x", "y", AlertState.FIRING,
              "Mất điện lưới", "Mains failure", "m", "m", {}, at, at),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip


SMALL_DEVICES = {"bts1": "bts", "gw1": "netgw"}


def test_ages_and_the_strip_agree_with_the_tiles(
    browser: Browser, served: tuple[str, str, AlertRepository]
) -> None:
    url, viewer, alerts = served
    two_hours_ago = now_ms() + AHEAD_MS - 2 * 3_600_000  # on the alerts' clock
    _open(alerts, "bts.mains_failure", "bts1", two_hours_ago)
    # The screen's own zone is UTC: the wall shows the deployment's (UTC+7) all the same.
    screen = browser.new_context(viewport={"width": 1600, "height": 900}, timezone_id="UTC")
    page = screen.new_page()
    page.goto(f"{url}/wall/?token={viewer}")
    page.wait_for_selector('#connection[data-state="live"]')
    incident = '#incidents [data-device-id="bts1"] .age'
    wait_in_page(page, f"document.querySelector('{incident}')?.textContent.startsWith('2 giờ')")
    wait_in_page(page, "document.querySelectorAll('#trend .label').length === 3")
    assert _strip(page)[2] == "BTS chạy ắc quy, 24 giờ: 1/2"  # as the tiles: 1 on battery

    # A link goes down and comes back: the strip's figure of now moves with the tiles.
    wan = _open(alerts, "netgw.wan_down", "gw1", now_ms() + AHEAD_MS)
    wait_in_page(page, "document.querySelector('#trend .label').textContent.endsWith(': 1/2')")
    assert _tile(page, "Đường truyền xã") == "1/2"
    wait_in_page(page, "document.querySelector('#ticker time') !== null")
    fired_at = datetime.fromtimestamp(wan.opened_at_ms / 1000, VIETNAM)
    assert page.locator("#ticker time").first.inner_text() == f"{fired_at:%H:%M:%S}"
    wait_in_page(page, "document.getElementById('clock').textContent !== ''")  # ticks each second
    assert page.locator("#clock").inner_text().endswith(" UTC+07:00")
    assert page.evaluate("number(2097)") == "2.097"  # as Vietnamese writes it
    over = dataclasses.replace(wan, state=AlertState.RESOLVED, resolved_at_ms=now_ms() + AHEAD_MS)
    alerts.record([AlertTransition(TransitionKind.RESOLVED, over, over.resolved_at_ms, "rules")])
    wait_in_page(page, "document.querySelector('#trend .label').textContent.endsWith(': 2/2')")
    assert _tile(page, "Đường truyền xã") == "2/2"
    screen.close()


def _strip(page: Page) -> list[str]:
    return page.locator("#trend .label").all_inner_texts()


def _tile(page: Page, label: str) -> str:
    tile = page.locator(".tile", has=page.locator(".label", has_text=label))
    return tile.locator(".value").inner_text().replace("\n", "")
