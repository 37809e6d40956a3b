"""The printable availability report, served by the API and rendered in headless Chromium: its
figures, its chart with the worst group first, Vietnamese by default and English on request,
and not one request for a remote asset. Screenshots are kept in build/test-artifacts/."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Route

from ioc.api import ApiContext, create_app
from ioc.app import availability_page, availability_report, load_catalog
from ioc.config import load_settings
from ioc.domain import Alert, AlertState, AlertTransition, Role, Severity, TransitionKind, now_ms
from ioc.state import AlertRepository, TokenStore, connect_state
from tests.support.history import SMALL_DEVICES, record_watching
from tests.support.services import MakeRuntime

pytestmark = [pytest.mark.e2e]

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
ARTIFACTS = Path(__file__).parents[2] / "build" / "test-artifacts"
MIN = 60_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00Z
DAY = 24 * 60 * MIN


def test_the_printable_report_in_a_browser(
    tmp_path: Path, browser: Browser, runtimes: MakeRuntime
) -> None:
    settings = load_settings(data_dir=tmp_path, inventory=SMALL_INVENTORY)
    catalog = load_catalog(settings)
    engine = connect_state(settings.resolved_state_url)
    repository = AlertRepository(engine)
    # C2's gateway out for 12 hours in November: C2 the worst commune.
    opened = T0 + 3 * 24 * 60 * MIN
    alert = repository.create(
        Alert(0, "netgw.wan_down", "gw2", "netgw", "C2", Severity.CRITICAL, "lossOfSignal",
              "communicationsAlarm", AlertState.FIRING, "", "", "", "", {}, opened, opened),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip
    over = opened + 720 * MIN
    resolved = dataclasses.replace(alert, state=AlertState.RESOLVED, resolved_at_ms=over)
    repository.record([AlertTransition(TransitionKind.RESOLVED, resolved, over, "rules")])
    record_watching(engine, T0 - DAY, now_ms() + 24 * 60 * MIN, SMALL_DEVICES)
    _, viewer = TokenStore(engine).create(Role.VIEWER, "printer", now_ms())
    runtime = runtimes(settings, catalog)
    context = ApiContext(
        lambda: catalog.inventory, catalog.profiles, repository, TokenStore(engine), now_ms,
        reports=lambda period, scope, by: availability_report(runtime, period, scope, by),
        report_page=lambda period, scope, by, lang: availability_page(
            runtime, period, scope, by, lang
        ),
    )  # fmt: skip
    november = "/api/v1/reports/availability?from=2026-11-01&to=2026-12-01&by=commune&format=html"
    with TestClient(create_app(context)) as client:
        vietnamese = client.get(november, headers={"Authorization": f"Bearer {viewer}"})
        english = client.get(f"{november}&lang=en", headers={"Authorization": f"Bearer {viewer}"})
        ahead = client.get(
            "/api/v1/reports/availability?from=2026-11-01&to=2099-01-01&format=html&lang=en",
            headers={"Authorization": f"Bearer {viewer}"},
        )
    repository.close()
    assert "(now; asked to 2099-01-01 00:00+07:00)" in ahead.text
    assert vietnamese.headers["content-type"] == "text/html; charset=utf-8"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    remote: list[str] = []

    def refuse(route: Route) -> None:
        remote.append(route.request.url)
        route.abort()

    # C2: 3 devices over 30 days, 12 hours out; C1 untouched. Written as each language
    # writes numbers, groups by name.
    c2 = round((1 - 720 / (3 * 43200)) * 100, 3)
    for lang, answer, heading, period, c2_pct in [
        ("vi", vietnamese, "Báo cáo khả dụng — theo xã", "2026-11-01 00:00+07:00 đến 2026-12-01",
         str(c2).replace(".", ",")),
        ("en", english, "Availability report — by commune", "2026-11-01 00:00+07:00 to 2026-12-01",
         str(c2)),
    ]:  # fmt: skip
        page = browser.new_page(viewport={"width": 900, "height": 700})
        page.route("**/*", refuse)
        page.set_content(answer.text, wait_until="load")
        assert page.locator("h1").inner_text() == heading
        assert period in page.locator(".meta").first.inner_text()
        bars = page.locator("svg.chart text").all_text_contents()  # the worst first
        assert bars[:4] == ["Xã Hai", f"{c2_pct} %", "Xã Một", "100 %"]
        tones = page.locator("svg.chart rect").evaluate_all("bars => bars.map(b => b.classList[0])")
        assert tones == ["mid", "good"]  # C2 under 99.9 %, C1 whole
        cells = [row.split("\t") for row in page.locator("tbody tr").all_inner_texts()]
        assert [c[:4] for c in cells] == [["Xã Một", "3", "100", "0"], ["Xã Hai", "3", c2_pct, "1"]]
        page.screenshot(path=str(ARTIFACTS / f"report-availability-{lang}.png"), full_page=True)
        page.close()
    assert remote == []  # the page is the whole report: no font, script or image fetched
