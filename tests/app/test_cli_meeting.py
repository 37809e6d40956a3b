"""`ioc meeting` as an operator runs it: plan a meeting for a commune's points, see which are
ready (exit 1 while one is not), its report afterwards, a cancellation, and clear refusals."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ioc.domain import Alert, AlertState, Severity, TransitionKind
from ioc.state import AlertRepository, connect_state
from tests.support.processes import run_ioc

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"


def test_plan_ready_report_and_cancel(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY)}
    planned = run_ioc(
        "meeting", "plan", "--title", "Giao ban tỉnh", "--start", "2026-12-01T08:00+07:00",
        "--duration", "90m", "--area", "D1", "--by", "lan", env=env,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.startswith(
        "meeting #1 planned: Giao ban tỉnh, 2 points (area D1 class vc)"
    )
    # vc2 cannot register: it is not ready.
    repository = AlertRepository(connect_state(f"sqlite:///{tmp_path / 'state.db'}"))
    at = 1_796_086_800_000  # 2026-12-01T07:40+07:00
    repository.create(
        Alert(0, "vc.not_registered", "vc2", "vc", "C2", Severity.MAJOR, "x", "y",
              AlertState.FIRING, "", "", "", "", {}, at, at),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip
    repository.close()
    ready = run_ioc("meeting", "ready", "1", env=env)
    assert ready.returncode == 1
    assert ready.stdout.splitlines() == [
        "meeting #1 Giao ban tỉnh: 1/2 points ready",
        "  vc2                      not ready: vc.not_registered",
    ]
    report = run_ioc("meeting", "report", "1", "--format", "csv", env=env)
    assert report.returncode == 0, report.stderr
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert [(r["point"], r["connected_min"], r["drops"]) for r in rows] == [
        ("vc1", "90.0", "0"), ("vc2", "90.0", "0"),  # not registered is no outage
    ]  # fmt: skip
    assert run_ioc("meeting", "cancel", "1", env=env).returncode == 0
    listed = run_ioc("meeting", "list", "--from", "2026-11-30", env=env)
    assert listed.returncode == 0 and listed.stdout == ""
    refused = run_ioc(
        "meeting", "plan", "--title", "x", "--start", "2026-12-01T08:00+07:00",
        "--points", "vc1,vc9", env=env,
    )  # fmt: skip
    assert refused.returncode == 2 and "not in the inventory: vc9" in refused.stderr
