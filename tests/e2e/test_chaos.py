"""End to end: the chaos soak of bench/chaos.py, short. Two nodes on PostgreSQL, a real
Mosquitto and influxd, node b in a network namespace of its own; for 40 s the nodes are
killed and frozen, the servers restarted or paused and node b cut off the broker, while doors
open and smoke alarms go off. Nothing the broker acknowledged is lost, every fault is one
alert, every notification reaches the webhook receiver and the SMTP server, and the walls'
streams have no gap (tests/support/chaos.py checks and prints the history)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.chaos import soak
from tests.support.netns import NEEDS_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@NEEDS_ROOT
def test_a_short_soak_with_every_fault_at_once_loses_nothing_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    passed = soak(tmp_path, seconds=40, seed=7, lease_s=3)
    history = (tmp_path / "history.txt").read_text(encoding="utf-8")
    assert passed, history
    assert "faults thrown" in history and "a wall:" in history
