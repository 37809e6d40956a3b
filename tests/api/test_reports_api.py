"""/api/v1/reports/availability over a recorded history: JSON and CSV, read back by a CSV
parser; a backwards period or an unknown area refused with 422; a viewer token needed."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from ioc.api import ApiContext, create_app
from ioc.app import availability_report, load_catalog
from ioc.config import load_settings
from ioc.domain import Alert, AlertState, AlertTransition, Role, Severity, TransitionKind, now_ms
from ioc.state import AlertRepository, TokenStore, connect_state
from tests.support.clock import UTC
from tests.support.history import SMALL_DEVICES, record_watching
from tests.support.services import MakeRuntime

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
MIN = 60_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00Z


def test_availability_as_json_and_csv(tmp_path: Path, runtimes: MakeRuntime) -> None:
    settings = load_settings(data_dir=tmp_path, inventory=SMALL_INVENTORY)
    catalog = load_catalog(settings)
    engine = connect_state(settings.resolved_state_url)
    repository = AlertRepository(engine)
    opened = T0 + 24 * 60 * MIN  # 2 November, out for 2 hours
    alert = repository.create(
        Alert(0, "netgw.wan_down", "gw2", "netgw", "C2", Severity.CRITICAL, "lossOfSignal",
              "communicationsAlarm", AlertState.FIRING, "", "", "", "", {}, opened, opened),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip
    resolved = dataclasses.replace(
        alert, state=AlertState.RESOLVED, resolved_at_ms=opened + 120 * MIN
    )
    repository.record(
        [AlertTransition(TransitionKind.RESOLVED, resolved, opened + 120 * MIN, "rules")]
    )
    record_watching(engine, T0 - MIN, now_ms() + 24 * 60 * MIN, SMALL_DEVICES)
    _, viewer = TokenStore(engine).create(Role.VIEWER, "report reader", now_ms())
    runtime = runtimes(settings, catalog)
    context = ApiContext(
        lambda: catalog.inventory, catalog.profiles, repository, TokenStore(engine), now_ms,
        reports=lambda period, scope, by: availability_report(runtime, period, scope, by),
        zone=UTC,  # a deployment in UTC: the history below is laid out in whole UTC days
    )  # fmt: skip
    auth = {"Authorization": f"Bearer {viewer}"}
    november = "from=2026-11-01&to=2026-12-01T00:00:00%2B00:00"
    with TestClient(create_app(context)) as client:
        assert client.get(f"/api/v1/reports/availability?{november}").status_code == 401
        communes = client.get(
            f"/api/v1/reports/availability?{november}&by=commune", headers=auth
        ).json()
        as_csv = client.get(
            "/api/v1/reports/availability?from=2026-11-01&to=2026-12-01&by=device&class=netgw"
            "&format=csv", headers=auth,
        )  # fmt: skip
        in_english = auth | {"Accept-Language": "en-GB,en;q=0.9"}
        workbook = client.get(
            f"/api/v1/reports/availability?{november}&by=class&format=xlsx", headers=in_english
        )
        sổ = client.get(  # no language asked: the deployment's, Vietnamese
            f"/api/v1/reports/availability?{november}&by=commune&format=xlsx", headers=auth
        )
        at_one = client.get(  # gw2 out since 00:00 on 2 November
            "/api/v1/reports/online?at=2026-11-02T01:00:00&by=commune", headers=auth
        ).json()
        backwards = client.get(
            "/api/v1/reports/availability?from=2026-12-01&to=2026-11-01", headers=auth
        )
        nowhere = client.get("/api/v1/reports/availability?from=2026-11-01&area=X", headers=auth)
        # Reaching into the future: counted up to now, and the interval counted says so.
        asked_at = now_ms()
        ahead = client.get(
            "/api/v1/reports/availability?from=2026-11-01&to=2099-01-01&by=all", headers=auth
        )
        answered_at = now_ms()
        not_yet = client.get("/api/v1/reports/availability?from=2099-01-01", headers=auth)
        future = client.get("/api/v1/reports/online?at=2099-01-01T08:00:00", headers=auth)
    repository.close()
    counted_from, _counted_to = ahead.headers["x-report-period"].split("/")
    assert counted_from == "2026-11-01T00:00:00.000Z"
    [everything] = ahead.json()
    counted_ms = everything["counted_min"] * MIN / everything["devices"]
    assert asked_at - 1_000 <= T0 + counted_ms <= answered_at + 1_000  # not 2099
    assert not_yet.status_code == 422 and "nothing has happened in it yet" in not_yet.text
    assert future.status_code == 422 and "that moment is in the future" in future.text
    by_commune = {row["group"]: row for row in communes}
    assert set(by_commune) == {"C1", "C2"}
    # C2 holds gw2, bts2 and vc2: 3 devices x 30 days, 120 minutes out.
    assert (by_commune["C2"]["devices"], by_commune["C2"]["outage_min"]) == (3, 120.0)
    assert by_commune["C2"]["availability_pct"] == round((1 - 120 / (3 * 43200)) * 100, 3)
    assert (by_commune["C1"]["outages"], by_commune["C1"]["availability_pct"]) == (0, 100.0)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["group"], r["outage_min"]) for r in rows] == [("gw1", "0.0"), ("gw2", "120.0")]
    # The workbook as a spreadsheet reads it: a title, the header, a row per class.
    assert (
        workbook.headers["content-disposition"] == 'attachment; filename="availability-class.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None and sheet.title == "availability"
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0][0] == "Availability by device class, 2026-11-01 00:00Z to 2026-12-01 00:00Z"
    assert cells[1][:4] == ["Group", "Name", "Devices", "Availability %"]
    by_class = {row[0]: dict(zip(cells[1], row, strict=True)) for row in cells[2:]}
    assert set(by_class) == {"bts", "netgw", "vc"}
    assert (by_class["netgw"]["Outage (min)"], by_class["netgw"]["MTTA (min)"]) == (120, None)
    vietnamese = load_workbook(io.BytesIO(sổ.content)).active
    assert vietnamese is not None
    title, header, first = list(vietnamese.iter_rows(values_only=True, max_row=3))
    assert title[0] == "Khả dụng theo xã, 2026-11-01 00:00Z đến 2026-12-01 00:00Z"
    assert header[:4] == ("Nhóm", "Tên", "Thiết bị", "Khả dụng %")
    assert first[:2] == ("C1", "Xã Một")  # the commune by name, not only its code
    assert at_one == [
        {
            "group": "C1",
            "name": "Xã Một",
            "devices": 3,
            "online": 3,
            "out": 0,
            "in_maintenance": 0,
            "no_data": 0,
        },
        {
            "group": "C2",
            "name": "Xã Hai",
            "devices": 3,
            "online": 2,
            "out": 1,
            "in_maintenance": 0,
            "no_data": 0,
        },
    ]
    assert backwards.status_code == 422 and "end after it starts" in backwards.text
    assert nowhere.status_code == 422 and "no area 'X'" in nowhere.text
