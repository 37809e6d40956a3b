"""Scriptable faults: from a scenario file or `KIND:DEVICE@AT/DURATION` flags."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml


class FaultKind(StrEnum):
    """What can go wrong with a device."""

    MAINS_FAILURE = "mains_failure"  # bts: mains off; battery discharges to LVD
    AIRCON_FAILURE = "aircon_failure"  # bts: shelter temperature climbs
    RECTIFIER_FAILURE = "rectifier_failure"
    DOOR_OPEN = "door_open"
    SMOKE = "smoke"
    LINK_DOWN = "link_down"  # netgw: WAN down; dependants go silent
    LINK_FLAP = "link_flap"  # netgw: WAN toggles every minute or so
    LINK_DEGRADE = "link_degrade"  # netgw: loss and RTT climb
    POOR_CALL = "poor_call"  # vc: in a call with bad quality
    DIE = "die"  # any: power cut, silent, broker sends the last will
    GARBAGE = "garbage"  # any: sends malformed messages
    CLOCK_SKEW = "clock_skew"  # any: clock hours off
    REBOOT = "reboot"  # any: once at the fault start: reconnects, uptime and seq reset


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds from `90`, `90s`, `15m`, `2h`, `1d`."""
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m or 2h")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault on one device, from `at` seconds after start, for `duration` seconds (0 = ever)."""

    kind: FaultKind
    device_id: str
    at_s: float = 0.0
    duration_s: float = 0.0

    def active(self, elapsed_s: float) -> bool:
        """Whether the fault holds at this many seconds after the start."""
        if elapsed_s < self.at_s:
            return False
        return self.duration_s <= 0 or elapsed_s < self.at_s + self.duration_s


def parse_fault(text: str) -> Fault:
    """`mains_failure:bts-QT-00012@60s/2h` -> a Fault (the @ and / parts are optional)."""
    match = re.fullmatch(
        r"([a-z_]+):([A-Za-z0-9_.-]{1,64})(?:@([0-9.]+[a-z]*))?(?:/([0-9.]+[a-z]*))?", text.strip()
    )
    if not match:
        raise ValueError(
            f"{text!r} is not KIND:DEVICE[@AT][/DURATION], e.g. link_down:gw-1@30s/10m"
        )
    kind, device, at, duration = match.groups()
    try:
        fault_kind = FaultKind(kind)
    except ValueError:
        raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FaultKind)}") from None
    return Fault(fault_kind, device, parse_duration(at or 0), parse_duration(duration or 0))


def read_scenario(path: Path) -> list[Fault]:
    """A YAML scenario: `faults: [{fault: link_down, device: gw-1, at: 30s, duration: 10m}]`."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    faults = []
    for index, entry in enumerate(document.get("faults", [])):
        unknown = set(entry) - {"fault", "device", "at", "duration"}
        if unknown:
            raise ValueError(f"{path}: faults[{index}]: unknown keys {sorted(unknown)}")
        try:
            faults.append(
                Fault(
                    FaultKind(entry["fault"]),
                    str(entry["device"]),
                    parse_duration(entry.get("at", 0)),
                    parse_duration(entry.get("duration", 0)),
                )
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}: faults[{index}]: {exc}") from None
    return faults
