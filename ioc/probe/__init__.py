"""The edge probe: equipment that speaks only standard protocols (ICMP, SNMP polls and traps),
watched from the operations centre or a district point of presence and published as
wire-protocol devices.

Exceptions::

    ProbeConfigError     the probe file or a probe profile it names is wrong
    IcmpUnavailable      no ICMP socket can be opened here (the message says what to change)
    EdgeError            the trap port cannot be bound (ioc.domain)
"""

from importlib import resources
from pathlib import Path

from ioc.probe._config import (
    PROBE_CLASS,
    IcmpSettings,
    ProbeConfig,
    ProbeConfigError,
    ProbeProfile,
    Target,
    TrapSettings,
    load_probe_config,
    load_probe_profile,
)
from ioc.probe._icmp import EchoResult, IcmpCounters, IcmpUnavailable, Pinger
from ioc.probe._schema import IcmpStatistic
from ioc.probe._service import Probe
from ioc.probe._traps import RejectedDatagram, Rejection, Trap, TrapListener


def bundled_probe_profiles_dir() -> Path:
    """The probe profiles shipped with ioc (the repository's devices/probe folder)."""
    return Path(str(resources.files("ioc.bundled.devices"))) / "probe"


__all__ = [
    "PROBE_CLASS",
    "EchoResult",
    "IcmpCounters",
    "IcmpSettings",
    "IcmpStatistic",
    "IcmpUnavailable",
    "Pinger",
    "Probe",
    "ProbeConfig",
    "ProbeConfigError",
    "ProbeProfile",
    "RejectedDatagram",
    "Rejection",
    "Target",
    "Trap",
    "TrapListener",
    "TrapSettings",
    "bundled_probe_profiles_dir",
    "load_probe_config",
    "load_probe_profile",
]
