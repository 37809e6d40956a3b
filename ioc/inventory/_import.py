"""Devices from a province's sheets: a small map says which column is which field and how the
area column names an area; every row is checked as the inventory file is (one validator), every
mistake named by its cell, and the result is a diff against the inventory in force (added,
changed, moved, retired) that is applied only when asked."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ioc.config.documents import read_model
from ioc.domain import Device, Inventory, Profile, plain
from ioc.inventory._errors import CatalogError
from ioc.inventory._schema import DeviceEntry, InventoryDocument, inventory_of
from ioc.inventory._sheets import HEADER_SEARCH_ROWS, Sheet, read_sheet

# The words before a commune's own name, in the order they are tried (longest first).
AREA_PREFIXES = ("thi tran", "thi xa", "thanh pho", "phuong", "huyen", "quan", "tinh", "xa")
TOTAL_WORDS = ("tong", "cong", "total")  # a sheet's total row, not a site
_MAX_LISTED = 50
EntryT = TypeVar("EntryT", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Columns(_Strict):
    id: str
    name: str
    area: str
    lat: str | None = None
    lon: str | None = None
    tags: list[str] = []
    address: str | None = None  # its IP address: the probe pings (and polls) it there
    vendor: str | None = None  # its maker: which probe profile watches it (vendor_profiles)


class ImportMap(_Strict):
    """Which column of a sheet is which field of a device (docs/inventory.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    version: Literal[1]
    class_: str = Field(alias="class")
    sheet: str | None = None  # the workbook's sheet; the first by default
    id_prefix: str = ""  # before the site code: `bts-` makes `bts-QT0417`
    areas_by: Literal["id", "name"] = "name"
    columns: _Columns
    # A vendor as the sheet writes it (compared without tones or case): its probe profile.
    vendor_profiles: dict[str, str] = {}


def load_import_map(path: Path) -> ImportMap:
    """Read a map file (CatalogError naming each mistake)."""
    return read_model(path, ImportMap, CatalogError)


def area_key(name: str) -> str:
    """An area's name without the word for its kind: "Xã Hướng Hiệp" and "hướng hiệp" meet."""
    key = plain(name)
    for prefix in AREA_PREFIXES:
        if key.startswith(prefix + " "):
            return key[len(prefix) + 1 :]
    return key


_DMS = re.compile(
    r"""^(?P<deg>\d+(?:[.,]\d+)?)\s*[°º˚d]?\s*
        (?:(?P<min>\d+(?:[.,]\d+)?)\s*['′’m]?\s*)?
        (?:(?P<sec>\d+(?:[.,]\d+)?)\s*(?:"|″|”|''|s)?\s*)?
        (?P<hemi>[NSEWnsew])?$""",
    re.VERBOSE,
)


def parse_coordinate(value: object) -> float:
    """Decimal degrees from a number, `16.7714`, `16,7714`, or degrees-minutes-seconds
    (`16°46'17.0"N`, `106 50 43.1 E`); ValueError for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    negative = text.startswith("-")
    match = _DMS.match(text.lstrip("-").strip())
    if match is None:
        raise ValueError(f"{text!r} is no coordinate (decimal degrees, or like 16°46'17\"N)")
    degrees, minutes, seconds = (
        float((match.group(part) or "0").replace(",", ".")) for part in ("deg", "min", "sec")
    )
    if minutes >= 60 or seconds >= 60:
        raise ValueError(f"{text!r}: minutes and seconds are below 60")
    decimal = degrees + minutes / 60 + seconds / 3600
    hemisphere = (match.group("hemi") or "").upper()
    return -decimal if negative or hemisphere in ("S", "W") else decimal


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """Where the probe finds an imported device, and with which profile (None: its class's)."""

    address: str
    profile: str | None
    snmp: dict[str, Any] | None = None  # the SNMP access it needs, as the probe file writes it


@dataclass
class ImportedDevices:
    """The devices the sheets describe, each with the cell its row starts at, and the probe
    targets their address columns give."""

    device_class: str
    entries: list[DeviceEntry] = field(default_factory=list)
    found_at: dict[str, str] = field(default_factory=dict)
    targets: dict[str, ProbeTarget] = field(default_factory=dict)


def read_devices(
    files: Sequence[Path], import_map: ImportMap, inventory: Inventory
) -> ImportedDevices:
    """Every device of the sheets, checked; CatalogError listing every mistake by its cell
    (then nothing is imported)."""
    areas_by_key: dict[str, list[str]] = {}
    for area in inventory.areas.values():
        areas_by_key.setdefault(area_key(area.name), []).append(area.id)
    imported = ImportedDevices(import_map.class_)
    mistakes: list[str] = []
    for path in files:
        sheet = read_sheet(path, import_map.sheet)
        _read_rows(sheet, import_map, inventory, areas_by_key, imported, mistakes)
    if mistakes:
        raise CatalogError("nothing imported:\n" + "\n".join(listed(mistakes)))
    return imported


def listed(mistakes: list[str]) -> list[str]:
    """The first mistakes, and how many more there are."""
    more = len(mistakes) - _MAX_LISTED
    return mistakes[:_MAX_LISTED] + ([f"... and {more} more"] if more > 0 else [])


def _read_rows(
    sheet: Sheet,
    import_map: ImportMap,
    inventory: Inventory,
    areas_by_key: dict[str, list[str]],
    imported: ImportedDevices,
    mistakes: list[str],
) -> None:
    columns = import_map.columns
    wanted = {"id": columns.id, "name": columns.name, "area": columns.area}
    wanted |= {k: v for k, v in (("lat", columns.lat), ("lon", columns.lon)) if v is not None}
    wanted |= {f"tag{i}": header for i, header in enumerate(columns.tags)}
    wanted |= {k: v for k, v in (("address", columns.address), ("vendor", columns.vendor)) if v}
    header_row, where = header_columns(sheet, wanted)
    for row in sheet.rows[header_row:]:
        cells = {key: row.values[i] if i < len(row.values) else None for key, i in where.items()}
        if all(value is None for value in cells.values()):
            continue  # a blank row
        first = next((v for v in row.values if v is not None), None)
        if isinstance(first, str) and plain(first).startswith(TOTAL_WORDS):
            continue  # the sheet's total ("Tổng cộng: 3 trạm")
        cell = {key: sheet.where(row.number, i) for key, i in where.items()}
        found = _device(cells, cell, import_map, inventory, areas_by_key, mistakes)
        target = _target(cells, cell, import_map, mistakes)
        if found is None:
            continue
        if found.id in imported.found_at:
            mistakes.append(
                f"{cell['id']}: site {found.id} is also at {imported.found_at[found.id]}"
            )
            continue
        imported.entries.append(found)
        imported.found_at[found.id] = cell["id"]
        if target is not None:
            imported.targets[found.id] = target


def _target(
    cells: dict[str, object], cell: dict[str, str], import_map: ImportMap, mistakes: list[str]
) -> ProbeTarget | None:
    """The row's probe target, when it gives an address."""
    if cells.get("address") is None:
        return None
    text = str(cells["address"])
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        mistakes.append(f"{cell['address']}: {text!r} is not an IPv4 or IPv6 address")
        return None
    vendor = cells.get("vendor")
    if vendor is None:
        return ProbeTarget(str(address), None)
    profiles = {plain(name): profile for name, profile in import_map.vendor_profiles.items()}
    profile = profiles.get(plain(str(vendor)))
    if profile is None:
        mistakes.append(
            f"{cell['vendor']}: vendor {vendor!r} has no probe profile in the map (vendor_profiles)"
        )
        return None
    return ProbeTarget(str(address), profile)


def header_columns(sheet: Sheet, wanted: dict[str, str]) -> tuple[int, dict[str, int]]:
    """The header row's index and each wanted field's column, found by the headers' text."""
    names = {key: plain(header) for key, header in wanted.items()}
    for index, row in enumerate(sheet.rows[:HEADER_SEARCH_ROWS]):
        seen = {plain(str(v)): i for i, v in enumerate(row.values) if v is not None}
        if all(name in seen for name in names.values()):
            return index + 1, {key: seen[name] for key, name in names.items()}
    headers = ", ".join(repr(h) for h in wanted.values())
    place = f"{sheet.path.name}:{sheet.name}" if sheet.name else sheet.path.name
    raise CatalogError(f"{place}: no header row with {headers} in its first rows")


def _device(
    cells: dict[str, object],
    cell: dict[str, str],
    import_map: ImportMap,
    inventory: Inventory,
    areas_by_key: dict[str, list[str]],
    mistakes: list[str],
) -> DeviceEntry | None:
    before = len(mistakes)
    code = cells["id"]
    if isinstance(code, float) and code.is_integer():
        code = int(code)  # a site code a spreadsheet took for a number
    if code is None:
        mistakes.append(f"{cell['id']}: no site code")
    area = _area(cells["area"], cell["area"], import_map, inventory, areas_by_key, mistakes)
    position: dict[str, float] = {}
    for axis, limit, word in (("lat", 90, "latitude"), ("lon", 180, "longitude")):
        if cells.get(axis) is None:
            continue
        try:
            degrees = parse_coordinate(cells[axis])
        except ValueError as exc:
            mistakes.append(f"{cell[axis]}: {word} {exc}")
            continue
        if not -limit <= degrees <= limit:
            mistakes.append(f"{cell[axis]}: {word} {degrees:g} is outside -{limit}..{limit}")
            continue
        position[axis] = degrees
    tags = sorted({_tag(v) for k, v in cells.items() if k.startswith("tag") and v is not None})
    if len(mistakes) > before:
        return None
    document: dict[str, Any] = {
        "id": f"{import_map.id_prefix}{code}",
        "class": import_map.class_,
        "area": area,
        "name": str(cells["name"] or ""),
        **position,
        "tags": [t for t in tags if t],
    }
    return validated(DeviceEntry, document, cell, mistakes)


def validated(
    model: type[EntryT], document: dict[str, Any], cell: dict[str, str], mistakes: list[str]
) -> EntryT | None:
    """A row's entry checked as the inventory file's are; each mistake named by the cell of
    its field (the id's when the field has none)."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "id"
            what = error["msg"].removeprefix("Value error, ")
            mistakes.append(f"{cell.get(key, cell['id'])}: {key}: {what}")
        return None


def _area(
    value: object,
    place: str,
    import_map: ImportMap,
    inventory: Inventory,
    areas_by_key: dict[str, list[str]],
    mistakes: list[str],
) -> str | None:
    if value is None:
        mistakes.append(f"{place}: no area")
        return None
    text = str(value)
    if import_map.areas_by == "id":
        if text not in inventory.areas:
            mistakes.append(f"{place}: no area with id {text!r}")
            return None
        return text
    found = areas_by_key.get(area_key(text), [])
    if len(found) == 1:
        return found[0]
    if not found:
        mistakes.append(f"{place}: no area named {text!r}")
    else:
        mistakes.append(f"{place}: {text!r} names several areas: {', '.join(sorted(found))}")
    return None


def _tag(value: object) -> str:
    return re.sub(r"[^a-z0-9_.:-]+", "-", plain(str(value))).strip("-")


@dataclass
class InventoryDiff:
    """What importing would change in the inventory in force."""

    added: list[DeviceEntry] = field(default_factory=list)
    changed: list[DeviceEntry] = field(default_factory=list)
    moved: list[tuple[DeviceEntry, str]] = field(default_factory=list)  # with its old area
    retired: list[str] = field(default_factory=list)  # of the class, absent from the sheets

    @property
    def empty(self) -> bool:
        """Whether applying it (retirements aside) changes nothing."""
        return not (self.added or self.changed or self.moved)

    def lines(self, limit: int = 20, retiring: bool = True) -> list[str]:
        """What it would do, a line per device (the first `limit` of each kind); without
        `retiring`, the devices the sheets lack are `absent` (they stay)."""
        shown = []
        for word, ids in (
            ("added", [e.id for e in self.added]),
            ("changed", [e.id for e in self.changed]),
            ("moved", [f"{e.id} ({old} -> {e.area})" for e, old in self.moved]),
            ("retired" if retiring else "absent", self.retired),
        ):
            shown += [f"  {word:8} {item}" for item in ids[:limit]]
            if len(ids) > limit:
                shown.append(f"  {word:8} ... and {len(ids) - limit} more")
        return shown

    def summary(self, retiring: bool = True) -> str:
        """`12 added, 3 changed, 1 moved, 2 retired`; without `retiring`, `..., 0 retired, 2
        absent from the sheets (kept)`."""
        counts = (len(self.added), len(self.changed), len(self.moved))
        done = "{} added, {} changed, {} moved".format(*counts)
        if retiring or not self.retired:
            return f"{done}, {len(self.retired)} retired"
        return f"{done}, 0 retired, {len(self.retired)} absent from the sheets (kept)"


def diff(imported: ImportedDevices, inventory: Inventory) -> InventoryDiff:
    """The imported devices against the inventory in force."""
    found = InventoryDiff()
    for entry in imported.entries:
        current = inventory.devices.get(entry.id)
        if current is None:
            found.added.append(entry)
        elif current.area_id != entry.area:
            found.moved.append((entry, current.area_id))
        elif _differs(current, entry):
            found.changed.append(entry)
    seen = {entry.id for entry in imported.entries}
    found.retired = sorted(
        d.id
        for d in inventory.devices.values()
        if d.device_class == imported.device_class and d.id not in seen
    )
    return found


def _differs(current: Device, entry: DeviceEntry) -> bool:
    return (current.name, current.lat, current.lon, current.tags) != (
        entry.name, entry.lat, entry.lon, frozenset(entry.tags),
    )  # fmt: skip


def apply(
    changes: InventoryDiff,
    inventory: Inventory,
    profiles: dict[str, Profile],
    retire: bool,
    source: str,
) -> tuple[dict[str, Any], Inventory]:
    """The inventory document with the changes made (retirements only with `retire`), and
    the inventory it describes, checked as a file is; what a device's row does not say (its
    dependencies, `since`) kept."""
    document = document_of(inventory)
    devices = {d["id"]: d for d in document["devices"]}
    for entry in [*changes.added, *changes.changed, *(e for e, _old in changes.moved)]:
        kept = devices.get(entry.id, {})
        devices[entry.id] = _entry_document(entry) | {
            k: kept[k] for k in ("depends_on", "since") if k in kept
        }
    if retire:
        for device_id in changes.retired:
            devices.pop(device_id)
    document["devices"] = list(devices.values())
    return document, checked_inventory(document, profiles, source, inventory.zone)


def checked_inventory(
    document: dict[str, Any], profiles: dict[str, Profile], source: str, zone: tzinfo
) -> Inventory:
    """The inventory a changed document describes, checked as its file would be (its dates
    days in `zone`)."""
    try:
        return inventory_of(InventoryDocument.model_validate(document), profiles, source, zone)
    except ValidationError as exc:
        raise CatalogError(f"{source}: {exc}") from exc


def document_of(inventory: Inventory) -> dict[str, Any]:
    """An inventory as its file writes it (a `since` at midnight in its zone as a date)."""
    areas = [
        {"id": a.id, "name": a.name, "kind": a.kind}
        | ({"parent": a.parent_id} if a.parent_id else {})
        for a in inventory.areas.values()
    ]
    devices = []
    for d in inventory.devices.values():
        device: dict[str, Any] = {"id": d.id, "class": d.device_class, "area": d.area_id}
        device["name"] = d.name
        if d.lat is not None and d.lon is not None:
            device |= {"lat": d.lat, "lon": d.lon}
        if d.depends_on:
            device["depends_on"] = list(d.depends_on)
        if d.tags:
            device["tags"] = sorted(d.tags)
        if d.since_ms is not None:
            device["since"] = _since(d.since_ms, inventory.zone)
        devices.append(device)
    return {"version": 1, "areas": areas, "devices": devices}


def _since(since_ms: int, zone: tzinfo) -> str:
    moment = datetime.fromtimestamp(since_ms / 1000, zone)
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat().replace("+00:00", "Z")


def _entry_document(entry: DeviceEntry) -> dict[str, Any]:
    return entry.model_dump(by_alias=True, exclude_defaults=True, mode="json")
