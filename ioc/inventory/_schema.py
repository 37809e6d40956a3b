"""The inventory file's format (docs/inventory.md), its JSON Schema, and the one check every way
in goes through: the file, and the imports, the API and discovery of issue 28.

The pydantic models are the format: `ioc inventory schema` prints their JSON Schema for editors,
and `inventory_of` turns a parsed document into an `Inventory` after the checks a schema cannot
make (a class the profiles define, an area or a dependency that exists, no dependency cycle).
"""

from __future__ import annotations

from datetime import date, tzinfo
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc.domain import (
    DEVICE_ID_PATTERN,
    Area,
    Device,
    Inventory,
    InventoryError,
    Profile,
    epoch_ms_of,
)
from ioc.inventory._errors import CatalogError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"
# Tag names the store writes itself; an area kind must not shadow them.
RESERVED_TAG_NAMES = frozenset({"device_id", "registered", "time", "class", "type"})
SINCE_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$"
SCHEMA_ID = "https://ioc.example/schemas/inventory-1.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AreaEntry(_Strict):
    """An area of the province's map: the province, a district, a commune (or a department)."""

    id: str = Field(
        pattern=f"^{DEVICE_ID_PATTERN}$", description="Unique among areas; used in reports."
    )
    name: str = Field(min_length=1, max_length=200, description="As people say it (Vietnamese).")
    kind: str = Field(
        pattern=NAME_PATTERN,
        description="province, district, commune, department... (reports group by it).",
    )
    parent: str | None = Field(
        default=None, description="The area it lies in; none for the top (the province)."
    )

    @field_validator("kind")
    @classmethod
    def _not_reserved(cls, kind: str) -> str:
        if kind in RESERVED_TAG_NAMES:
            raise ValueError(f"area kind {kind!r} is reserved")
        return kind


class DeviceEntry(_Strict):
    """A device ioc watches: a BTS site, a commune gateway, a video-conference point..."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(
        pattern=f"^{DEVICE_ID_PATTERN}$",
        description="Unique; the device's MQTT topics, its broker login and every alert use it.",
    )
    class_: str = Field(
        alias="class", description="A device class a profile defines (bts, netgw, vc...)."
    )
    area: str = Field(description="The id of the area it stands in.")
    name: str = Field(min_length=1, max_length=200, description="As the wall shows it.")
    # Both, or neither for a device whose position is not known (it stays off the map).
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude, WGS 84.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude, WGS 84.")
    # 0, 0 is where a sheet's empty cells land, so it is refused unless said to be meant.
    position_at_zero: bool = Field(
        default=False, description="Say true if the device really stands at lat 0, lon 0."
    )
    # Tuples, not lists: pydantic copies a list default for every one of 100,000 entries.
    depends_on: tuple[str, ...] = Field(
        default=(),
        description="Devices it is reached through (its commune gateway): when one is down, "
        "this device's silence is grouped under that alert instead of raising its own.",
    )
    tags: tuple[Annotated[str, Field(pattern=TAG_PATTERN)], ...] = Field(
        default=(), description="Free labels rules and reports can select on (carrier, tier...)."
    )
    # When it entered the inventory (a date is its midnight in the deployment's zone); none:
    # it was always there.
    since: AwareDatetime | date | None = Field(
        default=None,
        description="When it entered service; reports count its availability from then.",
        # The shape for editors, which rarely check `format`: a date, or a time with its zone.
        json_schema_extra={"pattern": SINCE_PATTERN},
    )

    @model_validator(mode="after")
    def _real_position(self) -> DeviceEntry:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither (no known position)")
        if self.lat == 0 and self.lon == 0 and not self.position_at_zero:
            raise ValueError(
                "lat 0, lon 0 is in the Gulf of Guinea, where empty cells of a sheet land: "
                "leave lat and lon out if the position is not known, or set "
                "position_at_zero: true if the device really is there"
            )
        return self

    def since_ms(self, zone: tzinfo) -> int | None:
        """`since` as epoch milliseconds (a date: its midnight in `zone`)."""
        return None if self.since is None else epoch_ms_of(self.since, zone)


class InventoryDocument(_Strict):
    """What ioc knows of a province: its areas and the devices in them (docs/inventory.md)."""

    version: Literal[1] = Field(description="The format's version: 1.")
    areas: list[AreaEntry] = Field(min_length=1)
    devices: list[DeviceEntry]


def inventory_of(
    document: InventoryDocument, profiles: dict[str, Profile], source: str, zone: tzinfo
) -> Inventory:
    """The inventory a parsed document describes, after the checks a schema cannot make: each
    class defined by a profile, each area, parent and dependency existing, no cycle
    (CatalogError naming `source` and the entry); its dates are days in `zone`."""
    for device in document.devices:
        if device.class_ not in profiles:
            known = ", ".join(sorted(profiles))
            raise CatalogError(
                f"{source}: devices[{device.id!r}].class: unknown class {device.class_!r} "
                f"(profiles define: {known})"
            )
    areas = [Area(a.id, a.name, a.kind, a.parent) for a in document.areas]
    devices = [
        Device(
            d.id, d.class_, d.area, d.name, d.lat, d.lon, tuple(d.depends_on),
            frozenset(d.tags), d.since_ms(zone),
        )
        for d in document.devices
    ]  # fmt: skip
    try:
        return Inventory.build(areas, devices, zone)
    except InventoryError as exc:
        raise CatalogError(f"{source}: {exc}") from exc


def inventory_schema() -> dict[str, Any]:
    """The inventory file's JSON Schema (draft 2020-12), for editors and other tools."""
    schema = InventoryDocument.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "ioc inventory",
    }
