"""Finding devices and areas by name as an operator types it: "tam ky" finds "Tam Kỳ"."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TypeVar

from ioc.domain import Area, Device, Inventory, plain


@dataclass(frozen=True, slots=True)
class Found:
    """What a search found, best first."""

    devices: list[Device]
    areas: list[Area]


class NameIndex:
    """Every device's and area's name and id as compared (no marks, one case), built once
    per inventory in force (100,000 devices take a moment to fold, a search must not)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inventory: Inventory | None = None
        self._devices: list[tuple[str, Device]] = []
        self._areas: list[tuple[str, Area]] = []

    def search(self, inventory: Inventory, query: str, limit: int) -> Found:
        """Devices and areas (up to `limit` of each) whose name or id holds every word of the
        query; those whose name starts with it first, then the shorter names."""
        words = plain(query).split()
        devices, areas = self._index(inventory)
        return Found(_best(devices, words, limit), _best(areas, words, limit))

    def _index(
        self, inventory: Inventory
    ) -> tuple[list[tuple[str, Device]], list[tuple[str, Area]]]:
        with self._lock:
            if inventory is not self._inventory:
                self._devices = [(_key(d.name, d.id), d) for d in inventory.devices.values()]
                self._areas = [(_key(a.name, a.id), a) for a in inventory.areas.values()]
                self._inventory = inventory
            return self._devices, self._areas


def _key(name: str, identifier: str) -> str:
    return f"{plain(name)} {plain(identifier)}"


Named = TypeVar("Named", Device, Area)


def _best(entries: list[tuple[str, Named]], words: list[str], limit: int) -> list[Named]:
    if not words:
        return []
    start = " ".join(words)
    matched = [(key, entry) for key, entry in entries if all(w in key for w in words)]
    matched.sort(key=lambda found: (not found[0].startswith(start), len(found[0]), found[0]))
    return [entry for _key, entry in matched[:limit]]
