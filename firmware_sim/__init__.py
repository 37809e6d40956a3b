"""Device firmware simulators speaking ioc wire protocol v1; imports nothing from ioc.

Run it with `python -m firmware_sim --help` or `ioc sim`.
"""

from firmware_sim.faults import Fault, FaultKind, parse_fault, read_scenario
from firmware_sim.fleet import DeviceSpec, load_fleet
from firmware_sim.runner import SimCounters, Simulator, SimulatorOptions

__all__ = [
    "DeviceSpec",
    "Fault",
    "FaultKind",
    "SimCounters",
    "Simulator",
    "SimulatorOptions",
    "load_fleet",
    "parse_fault",
    "read_scenario",
]
