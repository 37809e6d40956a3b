"""Reading commands as an operator uses them: `--demo` anywhere on any of them, `alerts show
--json` with every time of an alert's life, one-line refusals, and a reader that goes away."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ioc.domain import Alert, AlertState, AlertTransition, Severity, TransitionKind
from ioc.state import AlertRepository, connect_state
from tests.support.cli import invoke_ioc
from tests.support.history import SMALL_DEVICES, record_watching

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
MIN = 60_000
OPENED = 1_793_664_000_000  # 2026-11-03T00:00Z


def _record_outage(state_db: Path, alerts: int = 1) -> None:
    """gw1 down at OPENED, acknowledged after 10 minutes, resolved after 90 (and `alerts - 1`
    more alerts, resolved, to make a long listing)."""
    repository = AlertRepository(connect_state(f"sqlite:///{state_db}"))
    for n in range(alerts):
        opened = OPENED + n * MIN
        alert = repository.create(
            Alert(0, "device.down", "gw1", "netgw", "C1", Severity.CRITICAL, "lossOfSignal",
                  "communicationsAlarm", AlertState.FIRING, "", "", "", "gw1 down", {}, opened,
                  opened),
            TransitionKind.FIRED, "rules", "",
        )  # fmt: skip
        acked = dataclasses.replace(alert, state=AlertState.ACKNOWLEDGED)
        repository.record(
            [AlertTransition(TransitionKind.ACKNOWLEDGED, acked, opened + 10 * MIN, "an", "")]
        )
        resolved = dataclasses.replace(
            alert, state=AlertState.RESOLVED, resolved_at_ms=opened + 90 * MIN
        )
        repository.record(
            [AlertTransition(TransitionKind.RESOLVED, resolved, opened + 90 * MIN, "rules", "")]
        )
    repository.close()
    day = 24 * 60 * MIN
    record_watching(f"sqlite:///{state_db}", OPENED - 3 * day, OPENED + 28 * day, SMALL_DEVICES)


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    """A data dir whose last demo recorded an outage, while its own state records nothing."""
    (tmp_path / "demo").mkdir()
    _record_outage(tmp_path / "demo" / "state.db")
    return {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY)}


def test_demo_is_read_wherever_it_is_given(demo_env: dict[str, str]) -> None:
    assert invoke_ioc("alerts", "show", "1", env=demo_env).returncode == 4  # not the demo's
    before = invoke_ioc("alerts", "--demo", "show", "1", env=demo_env)
    after = invoke_ioc("alerts", "show", "1", "--demo", env=demo_env)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert before.stdout == after.stdout
    assert before.stdout.startswith("#1 resolved critical device.down on gw1")
    listed = invoke_ioc("alerts", "--demo", "--json", env=demo_env)
    assert [a["device_id"] for a in json.loads(listed.stdout)] == ["gw1"]
    report = invoke_ioc(
        "report", "availability", "--from", "2026-11-01", "--to", "2026-12-01", "--by", "all",
        "--format", "json", "--demo", env=demo_env,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)[0]["outages"] == 1
    for reading in (["dead-letters", "--demo"], ["notifications", "--demo"],
                    ["meeting", "list", "--demo"]):  # fmt: skip
        assert invoke_ioc(*reading, env=demo_env).returncode == 0, reading


def test_alerts_show_json_has_every_time_of_the_alert(demo_env: dict[str, str]) -> None:
    shown = invoke_ioc("alerts", "show", "1", "--json", "--demo", env=demo_env)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert (detail["opened_at"], detail["acknowledged_at"], detail["resolved_at"]) == (
        "2026-11-03T00:00:00.000Z", "2026-11-03T00:10:00.000Z", "2026-11-03T01:30:00.000Z",
    )  # fmt: skip
    assert [h["event"] for h in detail["history"]] == ["fired", "acknowledged", "resolved"]
    assert detail["children"] == []


@pytest.mark.parametrize(
    ("start", "end", "said"),
    [
        ("2026-12-01", "2026-11-01", "ioc: --to 2026-11-01 is not after --from 2026-12-01"),
        ("yesterday", "now", "ioc: 'yesterday' is not an ISO 8601 time"),
    ],
)
def test_a_wrong_period_is_refused_in_one_line(
    demo_env: dict[str, str], start: str, end: str, said: str
) -> None:
    refused = invoke_ioc("report", "power", "--from", start, "--to", end, env=demo_env)
    assert refused.returncode == 2
    assert refused.stderr.startswith(said) and refused.stderr.count("\n") == 1, refused.stderr


def test_a_reader_that_goes_away_ends_the_listing_quietly(tmp_path: Path) -> None:
    """`ioc alerts --demo | head -2`: the reader is gone before ioc writes; ioc stops as a Unix
    tool killed by SIGPIPE would (status 141), without a word on stderr."""
    (tmp_path / "demo").mkdir()
    _record_outage(tmp_path / "demo" / "state.db", alerts=200)
    read_end, write_end = os.pipe()
    os.close(read_end)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    listing = subprocess.run(
        [sys.executable, "-m", "ioc", "alerts", "--demo"],
        env={**clean, "IOC_DATA_DIR": str(tmp_path)},
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(write_end)
    assert (listing.returncode, listing.stderr) == (141, "")


def test_a_period_reaching_past_now_is_counted_up_to_now(tmp_path: Path) -> None:
    """`ioc report power` for today, asked at some hour of it: an open mains failure counts
    its hours up to now, not to midnight, and the command says where it counted to."""
    from ioc.domain import now_ms

    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY)}
    now = now_ms()
    today = now - now % 86_400_000
    opened = max(today, now - 2 * 3_600_000)
    repository = AlertRepository(connect_state(f"sqlite:///{tmp_path / 'state.db'}"))
    repository.create(
        Alert(0, "bts.mains_failure", "bts1", "bts", "C1", Severity.MAJOR, "x", "y",
              AlertState.FIRING, "", "", "", "", {}, opened, opened),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip
    repository.close()
    record_watching(f"sqlite:///{tmp_path / 'state.db'}", today, now + 60_000, SMALL_DEVICES)
    tomorrow = dt.datetime.fromtimestamp((today + 86_400_000) / 1000, dt.UTC).isoformat()
    start = dt.datetime.fromtimestamp(today / 1000, dt.UTC).isoformat()
    power = invoke_ioc(
        "report", "power", "--from", start, "--to", tomorrow, "--by", "device", "--format",
        "json", env=env,
    )  # fmt: skip
    assert power.returncode == 0, power.stderr
    assert power.stderr.startswith("ioc: counted up to now: ") and "(now; asked to" in power.stderr
    rows = {row["group"]: row for row in json.loads(power.stdout)}
    held_h = rows["bts1"]["mains_failures_h"]
    assert (now - opened) / 3_600_000 - 0.02 <= held_h <= (now_ms() - opened) / 3_600_000 + 0.01
    table = invoke_ioc("report", "availability", "--from", start, "--to", tomorrow, env=env)
    assert "(now; asked to " in table.stdout.splitlines()[0]
