"""The simulator's physics and fault scripting, without a broker."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest

from firmware_sim import FaultKind, parse_fault, read_scenario
from firmware_sim.physics import LVD_V, BtsShelter, CommuneGateway, VcEndpoint


def test_mains_failure_discharges_the_battery_to_disconnect() -> None:
    site = BtsShelter(random.Random(1))
    site.has_genset = False
    healthy = site.step(0, 60, set())
    assert healthy.metrics["battery_v"] == pytest.approx(54.0, abs=0.3)
    assert healthy.metrics["mains_ok"] is True
    voltages = []
    t = 0.0
    outputs = healthy
    while outputs.powered and t < 48 * 3600:
        t += 60
        outputs = site.step(t, 60, {FaultKind.MAINS_FAILURE})
        voltages.append(float(outputs.metrics["battery_v"]))
    assert not outputs.powered, "the site should reach low-voltage disconnect"
    assert voltages[0] < 52.0 and min(voltages) <= LVD_V
    assert all(a >= b - 0.3 for a, b in itertools.pairwise(voltages)), "sags steadily"
    assert 0.5 * 3600 < t < 30 * 3600


def test_aircon_failure_heats_the_shelter() -> None:
    site = BtsShelter(random.Random(2))
    start = float(site.step(0, 60, set()).metrics["temp_c"])
    temps = [
        float(site.step(60 * i, 60, {FaultKind.AIRCON_FAILURE}).metrics["temp_c"])
        for i in range(1, 120)
    ]
    assert temps[-1] > start + 8


def test_link_down_is_reported_and_blocks_dependants() -> None:
    gateway = CommuneGateway(random.Random(3))
    down = gateway.step(0, 30, {FaultKind.LINK_DOWN})
    assert down.metrics["wan_up"] is False and not down.link_ok
    assert ("link_down", {}) in down.events


def test_poor_call_lowers_mos() -> None:
    endpoint = VcEndpoint(random.Random(4))
    outputs = endpoint.step(10, 30, {FaultKind.POOR_CALL})
    assert outputs.metrics["in_call"] is True and float(outputs.metrics["mos"]) < 3.6


def test_fault_flags_and_scenarios(tmp_path: Path) -> None:
    fault = parse_fault("mains_failure:bts-QT-00012@60s/2h")
    assert (fault.kind, fault.device_id, fault.at_s, fault.duration_s) == (
        FaultKind.MAINS_FAILURE,
        "bts-QT-00012",
        60.0,
        7200.0,
    )
    assert not fault.active(59) and fault.active(60) and not fault.active(7260)
    assert parse_fault("die:x").active(1e9)
    with pytest.raises(ValueError, match="unknown fault 'melt'"):
        parse_fault("melt:x")
    scenario = tmp_path / "s.yaml"
    scenario.write_text("faults:\n  - {fault: link_down, device: gw-1, at: 30s, duration: 10m}\n")
    assert read_scenario(scenario)[0].duration_s == 600
    scenario.write_text("faults:\n  - {fault: link_down, device: gw-1, when: 3}\n")
    with pytest.raises(ValueError, match="unknown keys"):
        read_scenario(scenario)


def test_firmware_sim_imports_nothing_from_ioc() -> None:
    root = Path(__file__).resolve().parents[2] / "firmware_sim"
    for source in root.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import)\s+ioc\b", text, re.MULTILINE), source.name
