"""Areas from a province's sheets: its communes (or departments) with the area each lies in,
checked as the inventory file is, every mistake named by its cell; the diff (added, renamed,
moved) applied only when asked. Devices come after, by `_import.py`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ioc.config.documents import read_model
from ioc.domain import Inventory, Profile, plain
from ioc.inventory._errors import CatalogError
from ioc.inventory._import import (
    area_key,
    checked_inventory,
    document_of,
    header_columns,
    listed,
    validated,
)
from ioc.inventory._schema import AreaEntry
from ioc.inventory._sheets import read_sheet


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _AreaColumns(_Strict):
    id: str
    name: str
    parent: str  # the area it lies in (a district, or the province after the 2025 reform)


class AreaMap(_Strict):
    """Which column of an areas sheet is which field (docs/inventory.md)."""

    version: Literal[1]
    areas: str  # the kind of every area the sheet lists: commune, department...
    sheet: str | None = None
    id_prefix: str = ""
    parents_by: Literal["id", "name"] = "name"
    columns: _AreaColumns


def load_area_map(path: Path) -> AreaMap:
    """Read an areas map (CatalogError naming each mistake)."""
    return read_model(path, AreaMap, CatalogError)


@dataclass
class AreaDiff:
    """What importing the areas would change."""

    added: list[AreaEntry] = field(default_factory=list)
    renamed: list[AreaEntry] = field(default_factory=list)
    moved: list[tuple[AreaEntry, str | None]] = field(default_factory=list)  # its old parent

    @property
    def empty(self) -> bool:
        """Whether applying it changes nothing."""
        return not (self.added or self.renamed or self.moved)

    def summary(self) -> str:
        """`240 added, 1 renamed, 0 moved`."""
        return f"{len(self.added)} added, {len(self.renamed)} renamed, {len(self.moved)} moved"

    def lines(self, limit: int = 20) -> list[str]:
        """What it would do, a line per area (the first `limit` of each kind)."""
        shown = []
        for word, items in (
            ("added", [a.id for a in self.added]),
            ("renamed", [f"{a.id} ({a.name})" for a in self.renamed]),
            ("moved", [f"{a.id} ({old} -> {a.parent})" for a, old in self.moved]),
        ):
            shown += [f"  {word:8} {item}" for item in items[:limit]]
            if len(items) > limit:
                shown.append(f"  {word:8} ... and {len(items) - limit} more")
        return shown


def read_areas(files: Sequence[Path], area_map: AreaMap, inventory: Inventory) -> AreaDiff:
    """The sheets' areas against the inventory's; CatalogError listing every mistake by its
    cell (then nothing is imported). A parent is an area of the inventory or of the sheets."""
    rows: list[tuple[dict[str, object], dict[str, str]]] = []
    for path in files:
        sheet = read_sheet(path, area_map.sheet)
        start, where = header_columns(sheet, area_map.columns.model_dump())
        for row in sheet.rows[start:]:
            cells = {k: row.values[i] if i < len(row.values) else None for k, i in where.items()}
            if all(value is None for value in cells.values()):
                continue
            rows.append((cells, {k: sheet.where(row.number, i) for k, i in where.items()}))
    names = {area_key(a.name): a.id for a in inventory.areas.values()}
    ids = set(inventory.areas)
    for cells, _cell in rows:  # parents may be areas of the same sheets
        if cells["id"] is not None and cells["name"] is not None:
            code = f"{area_map.id_prefix}{cells['id']}"
            names.setdefault(area_key(str(cells["name"])), code)
            ids.add(code)
    mistakes: list[str] = []
    found = AreaDiff()
    seen: dict[str, str] = {}
    for cells, cell in rows:
        entry = _area(cells, cell, area_map, names, ids, mistakes)
        if entry is None:
            continue
        if entry.id in seen:
            mistakes.append(f"{cell['id']}: area {entry.id} is also at {seen[entry.id]}")
            continue
        seen[entry.id] = cell["id"]
        current = inventory.areas.get(entry.id)
        if current is None:
            found.added.append(entry)
        elif current.parent_id != entry.parent:
            found.moved.append((entry, current.parent_id))
        elif current.name != entry.name:
            found.renamed.append(entry)
    if mistakes:
        raise CatalogError("nothing imported:\n" + "\n".join(listed(mistakes)))
    return found


def _area(
    cells: dict[str, object],
    cell: dict[str, str],
    area_map: AreaMap,
    names: dict[str, str],
    ids: set[str],
    mistakes: list[str],
) -> AreaEntry | None:
    before = len(mistakes)
    if cells["id"] is None:
        mistakes.append(f"{cell['id']}: no area code")
    parent = cells["parent"]
    parent_id: str | None = None
    if parent is None:
        mistakes.append(f"{cell['parent']}: no area it lies in")
    elif area_map.parents_by == "id":
        parent_id = str(parent)
        if parent_id not in ids:
            mistakes.append(f"{cell['parent']}: no area with id {parent_id!r}")
    else:
        parent_id = names.get(area_key(str(parent)))
        if parent_id is None:
            mistakes.append(f"{cell['parent']}: no area named {parent!r}")
    if len(mistakes) > before:
        return None
    document = {
        "id": f"{area_map.id_prefix}{cells['id']}",
        "name": str(cells["name"] or ""),
        "kind": plain(area_map.areas).replace(" ", "_"),
        "parent": parent_id,
    }
    return validated(AreaEntry, document, cell, mistakes)


def apply_areas(
    changes: AreaDiff, inventory: Inventory, profiles: dict[str, Profile], source: str
) -> tuple[dict[str, Any], Inventory]:
    """The inventory document with the areas added, renamed and moved, and the inventory it
    describes, checked as a file is (no area inside itself)."""
    document = document_of(inventory)
    areas = {a["id"]: a for a in document["areas"]}
    for entry in [*changes.renamed, *(e for e, _old in changes.moved)]:
        areas[entry.id] |= {"name": entry.name, "parent": entry.parent}
    for entry in changes.added:
        areas[entry.id] = entry.model_dump(exclude_none=True)
    document["areas"] = list(areas.values())
    return document, checked_inventory(document, profiles, source, inventory.zone)
