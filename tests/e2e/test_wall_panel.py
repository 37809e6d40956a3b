"""The interactive wall in headless Chromium (a screen whose own zone is UTC), served by a real
uvicorn with the rules running: search finds a device typed without diacritics; its panel
shows where it stands, its readings, charts of the series the test wrote over 24 hours and 7
days, and its alert history; an operator signs in with her own account on a screen opened
with the wall's viewer token, acknowledges from the panel and the history shows her name; she
signs out; a viewer sees no button and the API refuses anyway; a dot on the map and an
incident open the panel too. Screenshots of the wall and the panel in both languages are kept in
build/test-artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3
from playwright.sync_api import Browser, Page

from ioc.accounts import AccountDesk
from ioc.api import ApiContext
from ioc.app import ApiOptions, ApiServer, Catalog, RulesService, Runtime
from ioc.broker import free_port
from ioc.config import load_settings
from ioc.domain import Caller, Inventory, Profile, Reading, Role, now_ms
from ioc.state import AccountStore, AlertRepository, AuditLog, TokenStore, connect_state
from ioc.store import SqliteStore
from tests.support.browser import wait_in_page
from tests.support.clock import VIETNAM
from tests.support.mqtt import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
ARTIFACTS = Path(__file__).parents[2] / "build" / "test-artifacts"
WEEK_S = 7 * 86_400
EVERY_S = 10  # a 10-second metric: 60,480 readings a week
LAN_PASSWORD = "đèn-đỏ-2026"


@dataclass
class Served:
    url: str
    viewer: str
    operator: str
    admin: str
    alerts: AlertRepository
    last_battery_v: float


@pytest.fixture
def served(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> Iterator[Served]:
    settings = load_settings(data_dir=tmp_path, inventory=SMALL_INVENTORY, api_port=free_port())
    runtime = Runtime(settings, Catalog(profiles, small_inventory))
    rules = RulesService(runtime)
    rules.start()
    engine = connect_state(settings.resolved_state_url)
    tokens = TokenStore(engine)
    _, viewer = tokens.create(Role.VIEWER, "wall", now_ms())
    _, operator = tokens.create(Role.OPERATOR, "Chị Lan", now_ms())
    _, admin = tokens.create(Role.ADMIN, "admin", now_ms())
    trail = AuditLog(engine)
    accounts = AccountDesk(AccountStore(engine), trail, now_ms)
    accounts.add("lan", "Nguyễn Thị Lan", Role.OPERATOR, LAN_PASSWORD, Caller("root", "cli"))
    # A week of bts1's battery every 10 seconds, a slow saw between 48 and 54 V.
    telemetry = SqliteStore(tmp_path / "telemetry.db")
    end = now_ms() // 1000 * 1000
    readings = [
        Reading("bts", "bts1", end - s * 1000, {"battery_v": 48 + (s // EVERY_S) % 600 / 100})
        for s in range(0, WEEK_S, EVERY_S)
    ]
    telemetry.write(readings)
    alerts = AlertRepository(engine)
    context = ApiContext(
        lambda: small_inventory, profiles, alerts, tokens, now_ms, request_wait_s=5.0,
        telemetry=telemetry, poll_every_s=0.05, beat_every_s=0.5, zone=VIETNAM,
        heartbeats=runtime.heartbeats().beats, audit=trail, accounts=accounts,
    )  # fmt: skip
    server = ApiServer(context, ApiOptions.of(settings))
    server.start()
    # A battery alert on bts1, raised by the rules as a real reading would.
    rules.observe(Reading("bts", "bts1", now_ms(), {"battery_v": 45.0}))
    wait_until(lambda: bool(alerts.open_on_device("bts1")), 10, "the battery alert")
    last = float(readings[0].metrics["battery_v"])
    yield Served(server.url, viewer, operator, admin, alerts, last)
    server.stop()
    rules.stop()
    runtime.close()
    telemetry.close()
    engine.dispose()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _open_wall(browser: Browser, url: str, token: str, lang: str = "vi") -> Page:
    screen = browser.new_context(viewport={"width": 1600, "height": 900}, timezone_id="UTC")
    page = screen.new_page()
    page.goto(f"{url}/wall/?token={token}&lang={lang}")
    page.wait_for_selector('#connection[data-state="live"]')
    return page


def _sign_in(page: Page, username: str, password: str) -> None:
    page.click("#sign-in")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click('#login-form button[type="submit"]')


def test_an_operator_signs_in_finds_a_device_reads_its_panel_and_acknowledges_from_it(
    browser: Browser, served: Served
) -> None:
    # The wall's screen, opened with its viewer token; Lan signs in there with her account.
    page = _open_wall(browser, served.url, served.viewer)
    _sign_in(page, "lan", "not-her-password")
    page.wait_for_selector("#login-error:not([hidden])")
    assert page.inner_text("#login-error") == "sai tên đăng nhập hoặc mật khẩu"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "wall-sign-in-vi.png"))
    page.fill("#login-password", LAN_PASSWORD)
    page.click('#login-form button[type="submit"]')
    wait_in_page(page, "document.getElementById('who').textContent === 'Nguyễn Thị Lan'")
    page.wait_for_selector('#connection[data-state="live"]')
    assert "token=" not in page.url  # the screen's token no longer acts
    assert page.evaluate("localStorage.getItem('ioc.token')") is None
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["ioc_session"]["httpOnly"] and cookies["ioc_session"]["sameSite"] == "Strict"
    page.screenshot(path=str(ARTIFACTS / "wall-vi.png"))

    # Typed without Vietnamese marks: "bts mot" finds "BTS Một".
    page.fill("#search", "bts mot")
    page.wait_for_selector('#search-results button[data-device-id="bts1"]')
    page.click('#search-results button[data-device-id="bts1"]')
    page.wait_for_selector("#panel:not([hidden]) #panel-title")
    assert page.inner_text("#panel-title") == "BTS Một"
    body = page.inner_text("#panel .panel-body")
    assert "Tỉnh Thử › Huyện Một › Xã Một" in body  # the area path
    assert "Cổng xã Một" in body  # reached through its commune gateway, by name

    # The chart of the series written: 24 hours in 5-minute steps, then 7 days in 30-minute ones.
    chart = '#panel svg[data-metric="battery_v"]'
    page.wait_for_selector(chart)
    assert 286 <= int(page.get_attribute(chart, "data-points") or 0) <= 289
    assert float(page.get_attribute(chart, "data-last") or 0) == pytest.approx(
        served.last_battery_v, abs=0.3
    )  # the mean of the last five minutes of the saw
    page.click('#panel button[data-span="7d"]')
    wait_in_page(page, f"Number(document.querySelector('{chart}')?.dataset.points) > 300")
    assert 335 <= int(page.get_attribute(chart, "data-points") or 0) <= 337
    page.screenshot(path=str(ARTIFACTS / "wall-panel-vi.png"))

    # Acknowledge from the panel, with a note: the history says who.
    alert_id = served.alerts.open_on_device("bts1")[0].id
    actions = f'#panel .actions[data-alert-id="{alert_id}"]'
    page.fill(f"{actions} .note", "đang thay ắc quy")
    page.click(f'{actions} button[data-action="ack"]')
    wait_until(
        lambda: served.alerts.open_on_device("bts1")[0].state.value == "acknowledged",
        10, "the acknowledgement",
    )  # fmt: skip
    entry = f'#panel .history > li[data-alert-id="{alert_id}"]'
    wait_in_page(page, f"document.querySelector('{entry} small')?.textContent.includes('đã nhận')")
    assert page.query_selector(f"{entry} .actions") is not None  # still open: resolve, note
    history = f'#panel details[data-alert-id="{alert_id}"]'
    page.click(f"{history} summary")
    page.wait_for_selector(f"{history} .trail li:nth-child(2)")
    trail = page.inner_text(f"{history} .trail")
    assert "ĐÃ NHẬN · Nguyễn Thị Lan (lan) — đang thay ắc quy" in trail
    # The audit trail says who, from where, what it was before and after (admin only).
    kept = urllib3.request(
        "GET", f"{served.url}/api/v1/audit", headers=_bearer(served.admin)
    ).json()
    assert [(e["actor"], e["origin"], e["action"], e["target"], e["before"], e["after"])
            for e in kept][:3] == [
        ("Nguyễn Thị Lan (lan)", "api 127.0.0.1", "alert.acknowledge", f"alert #{alert_id}",
         {"state": "firing"}, {"outcome": "done", "note": "đang thay ắc quy"}),
        ("Nguyễn Thị Lan (lan)", "api 127.0.0.1", "session.open", "account lan", None,
         {"role": "operator", "source": "local", "expires_at": kept[1]["after"]["expires_at"]}),
        ("lan", "api 127.0.0.1", "session.refused", "account lan", None,
         {"reason": "wrong password"}),
    ]  # fmt: skip
    as_csv = urllib3.request(
        "GET", f"{served.url}/api/v1/audit?format=csv", headers=_bearer(served.admin)
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.data.decode().splitlines()[0] == "id,at,actor,origin,action,target,before,after"
    refused = urllib3.request("GET", f"{served.url}/api/v1/audit", headers=_bearer(served.operator))
    assert refused.status == 403  # the trail is an admin's to read

    # The same panel in English, times still in Vietnam's zone.
    page.click("#lang")
    wait_in_page(page, "document.querySelector('#panel h3')?.textContent === 'Latest readings'")
    page.screenshot(path=str(ARTIFACTS / "wall-panel-en.png"))
    page.click("#panel-close")
    page.screenshot(path=str(ARTIFACTS / "wall-en.png"))

    # A dot on the map, and an incident, open the panel too.
    x, y = page.evaluate(
        "(() => { const i = devices.index.get('gw2');"
        " return [(devices.lon[i] - map.lon0) * map.cosLat * map.scale + map.tx,"
        " (map.lat0 - devices.lat[i]) * map.scale + map.ty]; })()"
    )
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + x, box["y"] + y)
    wait_in_page(page, "document.getElementById('panel-title')?.textContent === 'Cổng xã Hai'")
    page.click("#panel-close")
    page.click('#incidents [data-device-id="bts1"]')
    wait_in_page(page, "document.getElementById('panel-title')?.textContent === 'BTS Một'")

    # Signing out ends the session: the wall asks who is there again.
    page.click("#panel-close")
    page.click("#sign-out")
    page.wait_for_selector("#login[open]")
    signed_out = page.evaluate("fetch('/api/v1/me').then((r) => r.status)")
    assert signed_out == 401
    page.context.close()


def test_a_viewer_sees_no_acknowledge_button_and_the_api_refuses_it_anyway(
    browser: Browser, served: Served
) -> None:
    page = _open_wall(browser, served.url, served.viewer)
    page.click('#incidents [data-device-id="bts1"]')
    page.wait_for_selector("#panel:not([hidden]) .history > li")
    assert page.query_selector("#panel .actions") is None
    alert_id = served.alerts.open_on_device("bts1")[0].id
    refused = urllib3.request(
        "POST", f"{served.url}/api/v1/alerts/{alert_id}/ack",
        headers=_bearer(served.viewer), json={},
    )  # fmt: skip
    assert refused.status == 403
    assert served.alerts.open_on_device("bts1")[0].state.value == "firing"
    page.context.close()
