"""`ioc report availability` as an operator runs it, over a recorded history: CSV read back by
a CSV parser, and a clear refusal of an area the inventory does not have."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from ioc.api import ApiContext, create_app
from ioc.app import Runtime, availability_report
from ioc.config import load_settings
from ioc.domain import (
    Alert,
    AlertState,
    AlertTransition,
    MaintenanceWindow,
    Reading,
    Role,
    Severity,
    TransitionKind,
    WindowScope,
    now_ms,
)
from ioc.state import AlertRepository, TokenStore, connect_state
from ioc.store import SqliteStore
from tests.support.cli import invoke_ioc
from tests.support.history import SMALL_DEVICES, record_watching

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
MIN = 60_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00Z
DAY = 24 * 60 * MIN


def test_availability_per_device_as_csv(tmp_path: Path) -> None:
    # A deployment on UTC (IOC_TIMEZONE): the history below is laid out in UTC days.
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY),
           "IOC_TIMEZONE": "UTC"}  # fmt: skip
    repository = AlertRepository(connect_state(f"sqlite:///{tmp_path / 'state.db'}"))
    # gw1 out for 90 minutes on 3 November from 10:00, 30 of them in a window; acknowledged
    # after 10 minutes.
    opened = T0 + 2 * 24 * 60 * MIN + 600 * MIN
    alert = repository.create(
        Alert(0, "device.down", "gw1", "netgw", "C1", Severity.CRITICAL, "lossOfSignal",
              "communicationsAlarm", AlertState.FIRING, "", "", "", "", {}, opened, opened),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip
    acked = dataclasses.replace(alert, state=AlertState.ACKNOWLEDGED)
    resolved = dataclasses.replace(
        alert, state=AlertState.RESOLVED, resolved_at_ms=opened + 90 * MIN
    )
    repository.record(
        [AlertTransition(TransitionKind.ACKNOWLEDGED, acked, opened + 10 * MIN, "an")]
    )
    repository.record(
        [AlertTransition(TransitionKind.RESOLVED, resolved, opened + 90 * MIN, "rules")]
    )
    repository.add_window(
        MaintenanceWindow(0, WindowScope.DEVICE, "gw1", opened + 60 * MIN, opened + 120 * MIN,
                          "fibre splice", "an")
    )  # fmt: skip
    repository.close()
    record_watching(f"sqlite:///{tmp_path / 'state.db'}", T0 - MIN, T0 + 31 * DAY, SMALL_DEVICES)

    listed = invoke_ioc(
        "report", "availability", "--from", "2026-11-01", "--to", "2026-12-01",
        "--by", "device", "--format", "csv", env=env,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    rows = {row["group"]: row for row in csv.DictReader(io.StringIO(listed.stdout))}
    assert set(rows) == {"gw1", "gw2", "bts1", "bts2", "vc1", "vc2"}
    gw1 = rows["gw1"]
    assert (gw1["outages"], gw1["outage_min"], gw1["maintenance_min"]) == ("1", "60.0", "30.0")
    assert (gw1["mtta_min"], gw1["mttr_min"], gw1["counted_min"]) == ("10.0", "90.0", "43200.0")
    assert float(gw1["availability_pct"]) == round((1 - 60 / (43200 - 30)) * 100, 3)
    assert rows["gw2"]["availability_pct"] == "100.0" and rows["gw2"]["mtta_min"] == ""

    workbook = tmp_path / "november.xlsx"
    written = invoke_ioc(
        "report", "availability", "--from", "2026-11-01", "--to", "2026-12-01", "--by", "all",
        "--format", "xlsx", "--out", str(workbook), env=env,
    )  # fmt: skip
    assert written.returncode == 0 and "1 rows written" in written.stderr
    sheet = load_workbook(workbook).active
    assert sheet is not None
    title_row, header, (group, name, devices, *_) = sheet.iter_rows(values_only=True)
    title = title_row[0]
    assert (title, group, name, devices) == (
        "Availability by all devices, 2026-11-01 00:00Z to 2026-12-01 00:00Z", "all", "all", 6
    )  # fmt: skip
    assert header[:4] == ("Group", "Name", "Devices", "Availability %")  # labels for people

    # At 10:30 on 3 November gw1 is out; nothing behind it had an alert of its own: online.
    table = invoke_ioc(
        "report", "online", "--at", "2026-11-03T10:30:00Z", "--by", "commune", env=env
    )
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "Online by commune at 2026-11-03 10:30Z"
    assert re.split(r"\s{2,}", lines[1]) == [
        "Group", "Name", "Devices", "Online", "Out", "In maintenance", "No data"
    ]  # fmt: skip
    assert [line.split() for line in lines[2:]] == [
        ["C1", "Xã", "Một", "3", "2", "1", "0", "0"],  # the commune's name beside its id
        ["C2", "Xã", "Hai", "3", "3", "0", "0", "0"],
    ]

    refused = invoke_ioc(
        "report", "availability", "--from", "2026-11-01", "--area", "nowhere", env=env
    )
    assert refused.returncode == 2
    assert "no area 'nowhere' in the inventory" in refused.stderr


@pytest.mark.parametrize("state_url", ["sqlite", "postgresql"], indirect=True)
def test_november_is_the_local_month(tmp_path: Path, state_url: str) -> None:
    """In Asia/Ho_Chi_Minh (the default zone), November runs from 2026-10-31T17:00Z to
    2026-11-30T17:00Z, whether asked as --month, as bare dates, or through the API."""
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY),
           "IOC_STATE_URL": state_url}  # fmt: skip
    local_first = T0 - 7 * 60 * MIN  # 2026-11-01 00:00+07:00
    engine = connect_state(state_url)
    repository = AlertRepository(engine)
    # gw1 out at 01:00 local on 1 November (still October in UTC): in the local month;
    # gw2 out at 01:00 local on 1 December (still November in UTC): not in it.
    for device, opened in (
        ("gw1", local_first + 60 * MIN),
        ("gw2", local_first + 30 * DAY + 60 * MIN),
    ):
        alert = repository.create(
            Alert(0, "device.down", device, "netgw", "C1", Severity.CRITICAL, "lossOfSignal",
                  "communicationsAlarm", AlertState.FIRING, "", "", "", "", {}, opened, opened),
            TransitionKind.FIRED, "rules", "",
        )  # fmt: skip
        over = dataclasses.replace(
            alert, state=AlertState.RESOLVED, resolved_at_ms=opened + 45 * MIN
        )
        repository.record(
            [AlertTransition(TransitionKind.RESOLVED, over, opened + 45 * MIN, "rules")]
        )
    record_watching(engine, local_first - DAY, local_first + 40 * DAY, SMALL_DEVICES)

    by_month = invoke_ioc("report", "availability", "--month", "2026-11", "--by", "device", env=env)
    assert by_month.returncode == 0, by_month.stderr
    lines = by_month.stdout.splitlines()
    assert lines[0] == ("Availability by device, 2026-11-01 00:00+07:00 to 2026-12-01 00:00+07:00")
    as_json = invoke_ioc(
        "report", "availability", "--from", "2026-11-01", "--to", "2026-12-01", "--by", "device",
        "--format", "json", env=env,
    )  # fmt: skip
    rows = {row["group"]: row for row in orjson.loads(as_json.stdout)}
    assert (rows["gw1"]["outage_min"], rows["gw2"]["outage_min"]) == (45.0, 0.0)
    assert rows["gw1"]["counted_min"] == 30 * 24 * 60

    _, viewer = TokenStore(engine).create(Role.VIEWER, "reader", now_ms())
    settings = load_settings(data_dir=tmp_path, inventory=SMALL_INVENTORY, state_url=state_url)
    runtime = Runtime(settings)
    context = ApiContext(
        lambda: runtime.catalog.inventory, runtime.catalog.profiles, repository,
        TokenStore(engine), now_ms,
        reports=lambda period, scope, by: availability_report(runtime, period, scope, by),
    )  # fmt: skip
    with TestClient(create_app(context)) as client:
        answer = client.get(
            "/api/v1/reports/availability?from=2026-11-01&to=2026-12-01&by=device",
            headers={"Authorization": f"Bearer {viewer}"},
        )
    runtime.close()
    engine.dispose()
    assert answer.headers["x-report-period"] == "2026-10-31T17:00:00.000Z/2026-11-30T17:00:00.000Z"
    assert {row["group"]: row["outage_min"] for row in answer.json()}["gw1"] == 45.0

    wrong = invoke_ioc("report", "availability", "--month", "November", env=env)
    assert (wrong.returncode, wrong.stderr) == (
        2,
        "ioc: --month 'November' is not a month like 2026-11\n",
    )
    both = invoke_ioc(
        "report", "availability", "--month", "2026-11", "--from", "2026-11-01", env=env
    )
    assert both.returncode == 2 and "--from (and --to), or --month" in both.stderr


def test_power_and_links_reports(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY)}
    repository = AlertRepository(connect_state(f"sqlite:///{tmp_path / 'state.db'}"))

    def held(rule: str, device: str, device_class: str, hours: tuple[float, float]) -> None:
        opened, closed = (T0 + int(h * 60) * MIN for h in hours)
        alert = repository.create(
            Alert(0, rule, device, device_class, "C1", Severity.MAJOR, "x", "y",
                  AlertState.FIRING, "", "", "", "", {}, opened, opened),
            TransitionKind.FIRED, "rules", "",
        )  # fmt: skip
        done = dataclasses.replace(alert, state=AlertState.RESOLVED, resolved_at_ms=closed)
        repository.record([AlertTransition(TransitionKind.RESOLVED, done, closed, "rules")])

    held("bts.mains_failure", "bts2", "bts", (30, 36))
    held("bts.on_battery", "bts2", "bts", (30, 33.5))
    held("bts.generator_running", "bts2", "bts", (33.5, 36))
    for start in (50, 60, 70):  # gw2 drops three times, and flaps once
        held("netgw.wan_down", "gw2", "netgw", (start, start + 0.5))
    held("netgw.wan_down", "gw1", "netgw", (80, 81))
    held("netgw.link_flapping", "gw2", "netgw", (49, 72))
    repository.close()
    record_watching(f"sqlite:///{tmp_path / 'state.db'}", T0 - MIN, T0 + 31 * DAY, SMALL_DEVICES)
    telemetry = SqliteStore(tmp_path / "telemetry.db")  # the embedded store's file
    telemetry.write([
        Reading("bts", "bts2", T0 + 31 * 60 * MIN, {"battery_v": 47.25}),  # lowest in November
        Reading("bts", "bts2", T0 + 34 * 60 * MIN, {"battery_v": 49.0}),
        # 23:00 on 31 October in Vietnam (a bare date is local midnight): not November.
        Reading("bts", "bts2", T0 - 8 * 60 * MIN, {"battery_v": 40.0}),
        Reading("netgw", "gw2", T0 + 50 * 60 * MIN, {"loss_pct": 3.0}),
        Reading("netgw", "gw2", T0 + 51 * 60 * MIN, {"loss_pct": 0.5}),
        Reading("netgw", "gw2", T0 + 52 * 60 * MIN, {"loss_pct": 1.0}),
    ])  # fmt: skip
    telemetry.close()
    november = ("--from", "2026-11-01", "--to", "2026-12-01")

    power = invoke_ioc("report", "power", *november, "--by", "commune", "--format", "json", env=env)
    assert power.returncode == 0, power.stderr
    assert orjson.loads(power.stdout) == [
        {"group": "C1", "name": "Xã Một", "devices": 1, "mains_failures": 0,
         "mains_failures_h": 0.0, "on_battery": 0, "on_battery_h": 0.0, "generator": 0,
         "generator_h": 0.0,
         "lowest_battery_v": None},
        {"group": "C2", "name": "Xã Hai", "devices": 1, "mains_failures": 1,
         "mains_failures_h": 6.0, "on_battery": 1, "on_battery_h": 3.5, "generator": 1,
         "generator_h": 2.5,
         "lowest_battery_v": 47.25},
    ]  # fmt: skip

    links = invoke_ioc("report", "links", *november, "--by", "device", "--top", "1",
                    "--format", "csv", env=env)  # fmt: skip
    assert links.returncode == 0, links.stderr
    [worst] = csv.DictReader(io.StringIO(links.stdout))
    assert (worst["group"], worst["outages"], worst["outage_min"], worst["flapping_episodes"],
            worst["mean_loss_pct"]) == ("gw2", "3", "90.0", "1", "1.5")  # fmt: skip

    away = invoke_ioc(
        "report",
        "links",
        *november,
        env=env | {"IOC_INFLUX_URL": "http://127.0.0.1:9", "IOC_INFLUX_API": "v1"},
    )
    assert away.returncode == 1
    assert "the report reads telemetry, and the store did not answer" in away.stderr
    assert "Traceback" not in away.stderr
