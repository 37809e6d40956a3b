"""The devices to simulate, read from an inventory and the profiles' report intervals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device as its firmware knows itself."""

    device_id: str
    device_class: str
    interval_s: float
    depends_on: tuple[str, ...] = ()


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_fleet(
    inventory: Path,
    profiles_dir: Path,
    limit: int | None = None,
    classes: frozenset[str] | None = None,
) -> list[DeviceSpec]:
    """Devices of the inventory (optionally the first `limit`, of some classes only)."""
    intervals = {}
    for path in sorted(profiles_dir.glob("*.yaml")):
        profile = _read(path)
        intervals[profile["class"]] = float(profile["report_interval_s"])
    fleet = []
    for device in _read(inventory)["devices"]:
        if classes is not None and device["class"] not in classes:
            continue
        if device["class"] not in intervals:
            raise ValueError(
                f"{inventory}: device {device['id']} has unknown class {device['class']}"
            )
        fleet.append(
            DeviceSpec(
                device["id"],
                device["class"],
                intervals[device["class"]],
                tuple(device.get("depends_on", ())),
            )
        )
        if limit is not None and len(fleet) >= limit:
            break
    return fleet
