"""The simulator against a real Mosquitto: connections, last wills and fault timing."""

from __future__ import annotations

import pytest

from firmware_sim import Fault, FaultKind, Simulator, SimulatorOptions
from firmware_sim.fleet import DeviceSpec
from ioc.broker import MosquittoProcess

pytestmark = pytest.mark.integration


def test_a_reboot_fault_reboots_once(mosquitto: MosquittoProcess) -> None:
    fleet = [DeviceSpec("gw-1", "netgw", 30.0), DeviceSpec("gw-2", "netgw", 30.0)]
    simulator = Simulator(
        fleet,
        SimulatorOptions(port=mosquitto.port, speed=60.0),
        [Fault(FaultKind.REBOOT, "gw-1", at_s=0, duration_s=0)],
    )
    counters = simulator.run(duration_s=6)
    # gw-2 connects once; gw-1 connects, reboots at its first report, connects again, and
    # stays up for the ten or so reports that follow.
    assert counters.connects == 3
    assert counters.telemetry_sent >= 12
