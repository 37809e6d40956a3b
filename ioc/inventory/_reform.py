"""An area reform in one step: communes merged into new ones, a level of the map dissolved (the
2025 reform merged about 10,000 communes into 3,321 and removed the districts), from a date.

The reform file names each new area and the old ones it takes in; the devices of the old areas
move to the new one, areas under them follow, and the old areas leave the map. The result is
checked as every inventory change is, and recorded as one version in effect from the date, so
the alert history keeps the areas alerts happened in and reports can place devices on the map
before it (docs/inventory.md).
"""

from __future__ import annotations

from datetime import date, tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ioc.config.documents import read_model
from ioc.domain import epoch_ms_of
from ioc.inventory._errors import CatalogError
from ioc.inventory._schema import NAME_PATTERN, SINCE_PATTERN, AreaEntry


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Merge(_Strict):
    """A new area and the old areas it takes in (it may keep one of their ids)."""

    into: AreaEntry
    from_: list[str] = Field(alias="from", min_length=1, description="The old areas' ids.")


class Reform(_Strict):
    """A reform of the map (docs/inventory.md)."""

    version: Literal[1]
    name: str = Field(min_length=1, max_length=200, description="The decision that makes it.")
    effective: AwareDatetime | date = Field(
        description="When the new map holds (a date is its midnight in the deployment's zone).",
        json_schema_extra={"pattern": SINCE_PATTERN},
    )
    merges: list[Merge] = []
    dissolve: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(
        default=[],
        description="Kinds of area that leave the map (district): what lay in one moves up.",
    )

    def effective_ms(self, zone: tzinfo) -> int:
        """`effective` as epoch milliseconds (a date: its midnight in `zone`)."""
        return epoch_ms_of(self.effective, zone)


def load_reform(path: Path) -> Reform:
    """Read a reform file (CatalogError naming the file and the field)."""
    return read_model(path, Reform, CatalogError)


def reformed(document: dict[str, Any], reform: Reform, source: str) -> dict[str, Any]:
    """`document` with the reform made: merged areas' devices and sub-areas moved to the new
    area, the old areas and the dissolved kinds gone (what lay in a dissolved area moves to
    its parent). CatalogError listing every area the reform names that is not on the map, or
    that two merges take."""
    areas = {a["id"]: dict(a) for a in document["areas"]}
    moved_to: dict[str, str] = {}
    mistakes: list[str] = []
    for n, merge in enumerate(reform.merges):
        for old in merge.from_:
            where = f"{source}: merges[{n}].from"
            if old not in areas:
                mistakes.append(f"{where}: no area {old!r} on the map")
            elif old in moved_to:
                mistakes.append(f"{where}: area {old!r} is merged twice")
            moved_to[old] = merge.into.id
    kinds = {a["kind"] for a in areas.values()}
    mistakes += [
        f"{source}: dissolve: no area of kind {kind!r} on the map"
        for kind in reform.dissolve
        if kind not in kinds
    ]
    if mistakes:
        raise CatalogError("the reform does not fit the map:\n" + "\n".join(mistakes))
    for old in moved_to:
        areas.pop(old)
    for merge in reform.merges:
        areas[merge.into.id] = merge.into.model_dump(exclude_none=True)
    # What lay in a dissolved area moves up to its parent (a commune to the province).
    for area in [a for a in areas.values() if a["kind"] in reform.dissolve]:
        del areas[area["id"]]
        moved_to[area["id"]] = area.get("parent") or ""
    for area in areas.values():
        parent = _final(area.get("parent"), moved_to)
        if parent:
            area["parent"] = parent
        else:
            area.pop("parent", None)
    devices = [d | {"area": _final(d["area"], moved_to)} for d in document["devices"]]
    return {"version": 1, "areas": list(areas.values()), "devices": devices}


def _final(area_id: str | None, moved_to: dict[str, str]) -> str | None:
    """Where an area went, following moves (a commune merged, then its district dissolved)."""
    seen: set[str] = set()
    while area_id in moved_to and area_id not in seen:
        seen.add(area_id)
        area_id = moved_to[area_id]
    return area_id
