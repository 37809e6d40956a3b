"""The inventory: an area tree of any depth and the devices placed in it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo

from ioc.domain._clock import DEFAULT_ZONE, zone_named
from ioc.domain._errors import BadFileError

DEVICE_ID_PATTERN = r"[A-Za-z0-9_.-]{1,64}"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)


def is_valid_device_id(device_id: str) -> bool:
    """Tell whether a string is a legal device id on the wire."""
    return _DEVICE_ID.fullmatch(device_id) is not None


class InventoryError(BadFileError):
    """The inventory contradicts itself (a dangling reference, a cycle, a duplicate)."""


@dataclass(frozen=True, slots=True)
class Area:
    """A node of the area tree: a province, district, commune, department..."""

    id: str
    name: str
    kind: str
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """One monitored device and where it sits in the area tree and the network."""

    id: str
    device_class: str
    area_id: str
    name: str
    lat: float | None  # None, both: no known position (kept off the map)
    lon: float | None
    depends_on: tuple[str, ...] = ()
    tags: frozenset[str] = frozenset()  # free labels rules can select on ("backbone", "hub")
    since_ms: int | None = None  # when it entered the inventory (reports count it from then)


@dataclass(slots=True)
class Inventory:
    """Areas and devices, checked for consistency when built."""

    areas: dict[str, Area]
    devices: dict[str, Device]
    # The zone its file's dates are days in (a device's `since`): the deployment's.
    zone: tzinfo = field(default_factory=lambda: zone_named(DEFAULT_ZONE))
    _paths: dict[str, tuple[Area, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls, areas: Iterable[Area], devices: Iterable[Device], zone: tzinfo | None = None
    ) -> Inventory:
        """Index areas and devices and check every reference; raise InventoryError if wrong.
        Its dates are days in `zone` (by default the deployment's default zone)."""
        area_map: dict[str, Area] = {}
        for area in areas:
            if area.id in area_map:
                raise InventoryError(f"area {area.id!r} is defined twice")
            area_map[area.id] = area
        device_map: dict[str, Device] = {}
        for device in devices:
            if device.id in device_map:
                raise InventoryError(f"device {device.id!r} is defined twice")
            device_map[device.id] = device
        inventory = cls(area_map, device_map, zone or zone_named(DEFAULT_ZONE))
        inventory._check()
        return inventory

    def _check(self) -> None:
        for area in self.areas.values():
            self._paths[area.id] = self._walk_up(area)
        for device in self.devices.values():
            if device.area_id not in self.areas:
                raise InventoryError(
                    f"device {device.id!r} is in area {device.area_id!r}, which does not exist"
                )
            for upstream in device.depends_on:
                if upstream not in self.devices:
                    raise InventoryError(
                        f"device {device.id!r} depends on {upstream!r}, which does not exist"
                    )
                if upstream == device.id:
                    raise InventoryError(f"device {device.id!r} depends on itself")
        self._check_dependency_cycles()

    def _walk_up(self, area: Area) -> tuple[Area, ...]:
        chain = [area]
        seen = {area.id}
        while chain[-1].parent_id is not None:
            parent_id = chain[-1].parent_id
            parent = self.areas.get(parent_id)
            if parent is None:
                raise InventoryError(
                    f"area {chain[-1].id!r} has parent {parent_id!r}, which does not exist"
                )
            if parent.id in seen:
                raise InventoryError(f"area {area.id!r} is inside itself (a parent cycle)")
            seen.add(parent.id)
            chain.append(parent)
        return tuple(reversed(chain))

    def _check_dependency_cycles(self) -> None:
        done: set[str] = set()
        for start in self.devices:
            path: list[str] = []
            on_path: set[str] = set()
            stack: list[tuple[str, int]] = [(start, 0)]
            while stack:
                device_id, index = stack.pop()
                if index == 0:
                    if device_id in done:
                        continue
                    if device_id in on_path:
                        raise InventoryError(f"dependency cycle through device {device_id!r}")
                    path.append(device_id)
                    on_path.add(device_id)
                upstream = self.devices[device_id].depends_on
                if index < len(upstream):
                    stack.append((device_id, index + 1))
                    stack.append((upstream[index], 0))
                else:
                    on_path.discard(path.pop())
                    done.add(device_id)

    def area_path(self, area_id: str) -> tuple[Area, ...]:
        """The areas from the root down to this one."""
        return self._paths[area_id]

    def subtree(self, area_id: str) -> set[str]:
        """The area and every area below it (raises KeyError for an unknown area)."""
        if area_id not in self.areas:
            raise KeyError(area_id)
        return {a for a, path in self._paths.items() if any(p.id == area_id for p in path)}

    def device_area_tags(self, device_id: str) -> dict[str, str]:
        """Tag name -> area id for each level above and at the device (kind names the tag)."""
        device = self.devices[device_id]
        return {area.kind: area.id for area in self._paths[device.area_id]}


@dataclass(frozen=True, slots=True)
class InventoryVersion:
    """One version of the live inventory: who recorded it, when, why, and what it changed in
    short (its changes and document are read apart: they can be large)."""

    number: int
    recorded_at_ms: int
    effective_at_ms: int
    recorded_by: str
    origin: str  # start, load, import, api, reform, discover
    reason: str
    summary: str  # "2 devices added, 1 moved"
    file_digest: str | None  # recorded from a whole file: its document's digest
