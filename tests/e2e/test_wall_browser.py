"""End to end in a real browser: `ioc run` serves the wall; headless Chromium (Debian's package,
driven by Playwright) opens it; a fault injected in `ioc sim` appears on the map and in the
incident list; acknowledging it over the API shows on the wall; the wall says its data is stale
when `ioc run` goes away. A screenshot is kept in build/test-artifacts/."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import urllib3
from playwright.sync_api import Browser, Page

from ioc.broker import MosquittoProcess
from ioc.domain import now_ms
from ioc.inventory import bundled_profiles_dir
from tests.rules.harness import fast_rules
from tests.support.browser import wait_in_page
from tests.support.clock import VIETNAM
from tests.support.influx import InfluxProcess
from tests.support.mqtt import has_subscriber, wait_until
from tests.support.processes import IocProcess, answers, create_token, ioc_env, run_ioc

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
ARTIFACTS = Path(__file__).parents[2] / "build" / "test-artifacts"
WITHIN_MS = 20_000  # "within seconds": a poll, a stream hop and a frame, with CI's noise


@pytest.fixture
def env(
    mosquitto: MosquittoProcess, influxd: InfluxProcess, influx_db: str, tmp_path: Path
) -> dict[str, str]:
    rules = fast_rules(tmp_path / "rules", "30s", "3s")
    return ioc_env(mosquitto.url, influxd.url, influx_db, tmp_path / "data", SMALL_INVENTORY, rules)


def _incident(page: Page, device_id: str) -> str:
    return f'#incidents [data-device-id="{device_id}"]'


def test_a_fault_reaches_the_wall_and_an_acknowledgement_follows(
    browser: Browser,
    mosquitto: MosquittoProcess,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    ioc = IocProcess(["run", "--status-every", "2"], env, tmp_path / "ioc.log")
    sim = None
    stopped = False
    api = f"http://127.0.0.1:{env['IOC_API_PORT']}"
    try:
        wait_until(lambda: has_subscriber(mosquitto.port), 60, "ioc subscribed")
        viewer, operator = create_token(env, "viewer"), create_token(env, "operator")
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # The wall lives within its Content-Security-Policy: the browser reports no violation.
        page.on(
            "console",
            lambda message: (
                errors.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        page.goto(f"{api}/wall/?token={viewer}")
        wait_in_page(page, "document.querySelector('#map').dataset.devices === '6'")
        page.wait_for_selector('#connection[data-state="live"]')
        assert page.text_content("h1") == "Trung tâm điều hành"  # Vietnamese by default
        assert page.evaluate("window.iocWall.stateOf('bts2')") == "up"
        assert page.query_selector(_incident(page, "bts2")) is None
        # A meeting in 20 minutes planned from the wall, whose own token is a viewer's: refused
        # until an operator's token is given. The readiness board shows from 30 minutes before.
        page.click("#plan-open")
        page.fill("#plan-title", "Giao ban tỉnh")
        # Typed as the deployment's local time (UTC+7), whatever the browser's own zone.
        soon = f"{datetime.fromtimestamp(now_ms() / 1000 + 20 * 60, VIETNAM):%Y-%m-%dT%H:%M}"
        page.fill("#plan-start", soon)
        page.select_option("#plan-area", "P")
        page.click("#plan-form button[type=submit]")
        page.wait_for_selector("#plan-error:not([hidden])")
        assert "Cần mã operator" in page.inner_text("#plan-error")
        assert page.query_selector("#meeting:not([hidden])") is None
        page.fill("#plan-token", operator)
        page.click("#plan-form button[type=submit]")
        page.wait_for_selector("#plan", state="hidden")
        page.wait_for_selector("#meeting:not([hidden])")
        board = page.inner_text("#meeting")
        assert "Giao ban tỉnh · họp lúc" in board and "2/2 điểm cầu sẵn sàng" in board
        # The 24-hour trend strip: a sparkline for links, VC points and BTS on battery.
        wait_in_page(page, "document.querySelectorAll('#trend svg polyline').length === 3")
        strip = page.locator("#trend .label").all_inner_texts()
        assert strip == ["Đường truyền hoạt động, 24 giờ: 2/2", "Điểm cầu trực tuyến, 24 giờ: 2/2",
                         "BTS chạy ắc quy, 24 giờ: 0/2"]  # fmt: skip
        # Nothing reports yet: the wall says so rather than show green as if all were well.
        wait_in_page(
            page,
            "document.querySelector('#stale').textContent.includes('không có dữ liệu mới')",
            30_000,
        )
        assert page.get_attribute("body", "data-stale") == "true"

        # The shelter door of bts2 opens 5 simulated seconds in (0.5 s at 10x).
        sim = IocProcess(
            [
                "sim", "--speed", "10", "--inventory", str(SMALL_INVENTORY),
                "--profiles", str(bundled_profiles_dir()), "--quiet",
                "--fault", "door_open:bts2@5/1h",
            ],
            env,
            tmp_path / "sim.log",
        )  # fmt: skip
        incident = page.wait_for_selector(_incident(page, "bts2"), timeout=30_000)
        assert incident is not None
        assert "Cửa phòng máy mở" in (incident.text_content() or "")
        assert incident.get_attribute("data-state") == "firing"
        wait_in_page(page, "window.iocWall.stateOf('bts2') !== 'up'", WITHIN_MS)
        assert int(page.get_attribute("#map", "data-alerting") or 0) >= 1
        assert page.text_content("#ticker") and "BTS Hai" in (page.text_content("#ticker") or "")

        alert_id = incident.get_attribute("data-alert-id")
        acked = urllib3.request(
            "POST",
            f"{api}/api/v1/alerts/{alert_id}/ack",
            body=json.dumps({"note": "field team on the way"}),
            headers={"Authorization": f"Bearer {operator}", "Content-Type": "application/json"},
        )
        assert acked.status == 200, acked.data
        page.wait_for_selector(
            f'{_incident(page, "bts2")}[data-state="acknowledged"]', timeout=WITHIN_MS
        )
        # `ioc run` keeps it in the audit trail: whose token, from where, the state before.
        trail = run_ioc("audit", "--action", "alert.", "--format", "json", env=env)
        [kept] = json.loads(trail.stdout)
        assert (kept["actor"], kept["origin"], kept["target"]) == (
            "operator-token (token #2)",
            "api 127.0.0.1",
            f"alert #{alert_id}",
        )
        assert json.loads(kept["before"]) == {"state": "firing"}

        page.click("#lang")
        assert page.text_content("h1") == "Operations centre"
        assert "Shelter door open" in (page.text_content(_incident(page, "bts2")) or "")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "wall.png"
        page.screenshot(path=str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # Fresh once the rules have judged telemetry and said so in a heartbeat (every 5 s).
        wait_in_page(page, "document.body.dataset.stale === 'false'", 30_000)

        # The API's docs render on an isolated network: nothing is fetched from elsewhere.
        docs = browser.new_page()
        remote: list[str] = []
        docs.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(api)
                else (remote.append(route.request.url), route.abort())
            ),
        )
        docs.goto(f"{api}/docs")
        docs.wait_for_selector(".swagger-ui .info .title", timeout=WITHIN_MS)
        assert (docs.text_content(".swagger-ui .info .title") or "").startswith("ioc")
        docs.wait_for_selector(".opblock-tag", timeout=WITHIN_MS)  # the operations, listed
        docs.close()
        assert remote == []

        # The wall must never pass old data off as live.
        assert ioc.stop() == 0
        stopped = True
        wait_in_page(page, "document.body.dataset.stale === 'true'", 30_000)
        assert "STALE DATA" in (page.text_content("#stale") or "")
        assert errors == []
    finally:
        if not stopped:
            ioc.stop()
        if sim is not None:
            sim.stop()


def test_the_wall_asks_for_a_token_and_refuses_a_bad_one(
    browser: Browser, env: dict[str, str], tmp_path: Path
) -> None:
    ioc = IocProcess(["api"], env, tmp_path / "api.log")
    api = f"http://127.0.0.1:{env['IOC_API_PORT']}"
    try:
        wait_until(lambda: answers(f"{api}/healthz"), 60, "ioc api")
        viewer = create_token(env, "viewer")
        page = browser.new_page()
        page.goto(f"{api}/")  # the root leads to the wall
        page.wait_for_selector("#login[open]")
        page.click("#login-token-box summary")  # a screen takes a token, not a person's name
        page.fill("#login-token", "ioc_not-a-token")
        page.click("#login button")
        page.wait_for_selector("#login-error:not([hidden])")
        page.fill("#login-token", viewer)
        page.click("#login button")
        wait_in_page(page, "document.querySelector('#map').dataset.devices === '6'")
        # Remembered: a reload (a screen power cycle) needs no one at the keyboard.
        page.reload()
        wait_in_page(page, "document.querySelector('#map').dataset.devices === '6'")
        assert page.query_selector("#login[open]") is None
    finally:
        ioc.stop()
