"""`ioc meeting` as an operator runs it: plan a meeting for a commune's points, see which are
ready (exit 1 while one is not), its report afterwards, a cancellation, and clear refusals:
a meeting already over, an empty list of points, the report of a meeting cancelled or not
begun."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from ioc.domain import Alert, AlertState, Meeting, Severity, TransitionKind, now_ms
from ioc.state import AlertRepository, MeetingStore, connect_state
from tests.support.cli import invoke_ioc
from tests.support.history import SMALL_DEVICES, record_watching

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
HOUR = 3_600_000


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


def test_plan_ready_report_and_cancel(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY)}
    tomorrow = now_ms() + 24 * HOUR
    planned = invoke_ioc(
        "meeting", "plan", "--title", "Giao ban tỉnh", "--start", _iso(tomorrow),
        "--duration", "90m", "--area", "D1", "--by", "lan", env=env,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.startswith(
        "meeting #1 planned: Giao ban tỉnh, 2 points (area D1 class vc)"
    )
    # vc2 cannot register: it is not ready.
    engine = connect_state(f"sqlite:///{tmp_path / 'state.db'}")
    repository = AlertRepository(engine)
    at = now_ms()
    repository.create(
        Alert(0, "vc.not_registered", "vc2", "vc", "C2", Severity.MAJOR, "x", "y",
              AlertState.FIRING, "", "", "", "", {}, at, at),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip
    ready = invoke_ioc("meeting", "ready", "1", env=env)
    assert ready.returncode == 1
    assert ready.stdout.splitlines() == [
        "meeting #1 Giao ban tỉnh: 1/2 points ready",
        "  vc2                      not ready: vc.not_registered",
    ]
    early = invoke_ioc("meeting", "report", "1", env=env)
    assert early.returncode == 1 and early.stderr.startswith("ioc: meeting #1 has not begun")

    # A meeting planned earlier, held on 1 December from 08:00 to 09:30 (+07:00).
    held = MeetingStore(engine).add(
        Meeting(0, "Giao ban", 1_796_086_800_000, 1_796_092_200_000, ("vc1", "vc2"), "D1", "lan")
    )
    record_watching(engine, held.starts_at_ms - HOUR, held.ends_at_ms + HOUR, SMALL_DEVICES)
    repository.close()
    report = invoke_ioc("meeting", "report", str(held.id), "--format", "csv", env=env)
    assert report.returncode == 0, report.stderr
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert [(r["point"], r["meeting_min"], r["connected_min"], r["drops"]) for r in rows] == [
        ("vc1", "90.0", "90.0", "0"), ("vc2", "90.0", "90.0", "0"),  # not registered: no outage
    ]  # fmt: skip

    assert invoke_ioc("meeting", "cancel", "1", env=env).returncode == 0
    assert invoke_ioc("meeting", "cancel", str(held.id), env=env).returncode == 0
    listed = invoke_ioc("meeting", "list", env=env)
    assert listed.returncode == 0 and listed.stdout == ""
    cancelled = invoke_ioc("meeting", "report", str(held.id), env=env)
    assert (cancelled.returncode, cancelled.stderr) == (  # as things stand: 1, not a mistake
        1, f"ioc: meeting #{held.id} was cancelled: it has no report\n",
    )  # fmt: skip


def test_plans_refused_in_one_line(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY)}
    tomorrow = _iso(now_ms() + 24 * HOUR)
    refusals = {
        ("--start", tomorrow, "--points", "vc1,vc9"): "ioc: not in the inventory: vc9\n",
        # An empty list must not mean every point of the province.
        ("--start", tomorrow, "--points", ""): (
            "ioc: the list of points is empty: name them, or give an area\n"
        ),
        ("--start", "2026-12-01T08:00+07:00", "--duration", "90m"): (
            "ioc: that meeting is over already (it ended 2026-12-01 09:30+07:00): nothing to plan\n"
        ),
    }
    for arguments, said in refusals.items():
        refused = invoke_ioc("meeting", "plan", "--title", "x", *arguments, env=env)
        assert (refused.returncode, refused.stderr) == (2, said), arguments
    assert invoke_ioc("meeting", "list", env=env).stdout == ""  # nothing was planned
