"""`ioc discover`: a subnet swept, each answer matched to a probe profile, and what it would add
proposed as the inventory's usual diff and as probe targets; applied only on request, then as
any change is (checked, recorded as a version with who and why, the probe file checked as the
probe reads it before either is written).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ioc.app._catalog import Catalog
from ioc.app._inventory import Change
from ioc.app._onboarding import probe_file_parts, recorded_then_written, stage_targets
from ioc.app._runtime import Runtime
from ioc.domain import BadInput
from ioc.inventory import ProbeTarget, document_of
from ioc.probe import ProbeProfile, bundled_probe_profiles_dir
from ioc.probe._config import SnmpAccess
from ioc.probe._discover import Sighting, matching, probe_profiles, sweep


@dataclass(frozen=True, slots=True)
class Finding:
    """One address that answered: the profile for it and the device it is or would be, or,
    for gear ioc cannot place, why not (`unplaced`)."""

    sighting: Sighting
    profile: ProbeProfile | None = None
    device_id: str | None = None
    known: str | None = None  # "watched" (a target already), "in the inventory"
    unplaced: str | None = None


@dataclass
class Discovery:
    """What a sweep found and what it proposes."""

    swept: int
    findings: list[Finding] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)  # entries to add
    targets: dict[str, ProbeTarget] = field(default_factory=dict)  # device id -> target

    @property
    def placed(self) -> list[Finding]:
        """The findings a profile is for."""
        return [f for f in self.findings if f.unplaced is None]

    @property
    def unplaced(self) -> list[Finding]:
        """Gear listed with what it said, and added to nothing."""
        return [f for f in self.findings if f.unplaced is not None]


def discover(
    runtime: Runtime,
    addresses: list[str],
    access: SnmpAccess,
    area: str,
    probe_file: Path | None,
    id_prefix: str = "",
) -> Discovery:
    """Sweep `addresses` and propose each new device, in `area`, and its probe target."""
    catalog = runtime.catalog
    if area not in catalog.inventory.areas:
        raise BadInput(f"--area: no area {area!r} in the inventory")
    watched, folder = probe_file_parts(probe_file) if probe_file else ({}, None)
    profiles = probe_profiles(folder or bundled_probe_profiles_dir(), catalog.profiles)
    found = Discovery(len(addresses))
    for sighting in sweep(addresses, access):
        if not (sighting.answers_ping or sighting.answers_snmp):
            continue
        finding = _place(sighting, profiles, catalog, watched, id_prefix)
        found.findings.append(finding)
        if finding.unplaced is not None or finding.known == "watched":
            continue
        assert finding.device_id is not None
        if finding.known is None:
            found.devices.append(_entry(finding, area))
        profile = finding.profile
        assert profile is not None
        snmp = _written(access) if profile.polls_snmp else None
        found.targets[finding.device_id] = ProbeTarget(sighting.address, profile.name, snmp)
    return found


def _written(access: SnmpAccess) -> dict[str, Any]:
    """The access as the probe file writes it."""
    if access.usm is None:
        return {"version": "2c", "community": access.community}
    usm = access.usm
    return {"version": "3", "usm": {
        "user": usm.user, "auth_protocol": usm.auth_protocol, "auth_key": usm.auth_key,
        "priv_protocol": usm.priv_protocol, "priv_key": usm.priv_key,
    }}  # fmt: skip


def _place(
    sighting: Sighting,
    profiles: list[ProbeProfile],
    catalog: Catalog,
    watched: dict[str, str],
    id_prefix: str,
) -> Finding:
    if sighting.address in watched:
        return Finding(sighting, device_id=watched[sighting.address], known="watched")
    object_id = sighting.said.get("sys_object_id")
    if object_id is None:
        why = "answers ping only" + (f" (SNMP: {sighting.snmp_failure})"
                                     if sighting.snmp_failure else "")  # fmt: skip
        return Finding(sighting, unplaced=why)
    candidates = matching(object_id, profiles)
    if not candidates:
        return Finding(sighting, unplaced=f"no probe profile declares {object_id}")
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        return Finding(sighting, unplaced=f"{object_id} is claimed alike by {names}")
    profile = candidates[0]
    device_id = _device_id(id_prefix, sighting, profile.device_class)
    existing = catalog.inventory.devices.get(device_id)
    if existing is None:
        return Finding(sighting, profile, device_id)
    if existing.device_class != profile.device_class:
        return Finding(sighting, unplaced=f"named like {device_id}, a {existing.device_class} "
                                          f"in the inventory, but {profile.name} is for "
                                          f"{profile.device_class}")  # fmt: skip
    return Finding(sighting, profile, device_id, known="in the inventory")


def _device_id(prefix: str, sighting: Sighting, device_class: str) -> str:
    """From what the agent calls itself (`sysName`), else its class and address."""
    name = sighting.said.get("sys_name", "")
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", ascii_name).strip("-.")
    if not cleaned:
        cleaned = f"{device_class}-{re.sub(r'[.:]', '-', sighting.address)}"
    return f"{prefix}{cleaned}"[:64]


def _entry(finding: Finding, area: str) -> dict[str, Any]:
    assert finding.profile is not None and finding.device_id is not None
    name = finding.sighting.said.get("sys_name") or finding.sighting.address
    return {"id": finding.device_id, "class": finding.profile.device_class, "area": area,
            "name": name}  # fmt: skip


def apply_discovery(
    runtime: Runtime,
    found: Discovery,
    probe_file: Path | None,
    recorded_by: str,
    reason: str,
    dry_run: bool = False,
) -> Change:
    """Record the proposed devices as the inventory's next version, and write the targets to
    the probe file (checked first against the inventory they make: both or neither); with
    `dry_run`, check both and write neither."""
    live = runtime.live_inventory

    def added(current: Catalog) -> dict[str, Any]:
        document = document_of(current.inventory)
        known = {d["id"] for d in document["devices"]}
        document["devices"] += [d for d in found.devices if d["id"] not in known]
        return document

    made = live.change(added, recorded_by, reason, "discover", dry_run=True)
    staged = None
    if probe_file is not None and found.targets:
        catalog = made.catalog
        staged = stage_targets(probe_file, found.targets, catalog.inventory, catalog.profiles)
    if dry_run:
        if staged is not None:
            staged.discard()
        return made
    if not made.changes:
        return recorded_then_written(staged, lambda: made)
    return recorded_then_written(
        staged, lambda: live.change(added, recorded_by, reason, "discover")
    )
