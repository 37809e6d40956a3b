"""Finding a device or an area by name, as an operator types it at the wall."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ioc.api._search import NameIndex
from ioc.api.deps import Context, Viewer

router = APIRouter(tags=["search"])
_index = NameIndex()


class PlaceOnMap(BaseModel):
    """An area as a search lists it: where it sits, from the root down."""

    id: str
    name: str
    kind: str
    path: list[str]  # the names of the areas above it, from the root


class DeviceFound(BaseModel):
    """A device as a search lists it."""

    id: str
    name: str
    device_class: str
    area_id: str
    path: list[str]  # the names of its area and those above it, from the root


class SearchResult(BaseModel):
    """Devices and areas whose name or id holds every word asked, best first."""

    devices: list[DeviceFound]
    areas: list[PlaceOnMap]


@router.get("/search")
def search(
    context: Context,
    _caller: Viewer,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResult:
    """Devices and areas by name or id, without regard to case or Vietnamese marks ("tam ky"
    finds "Tam Kỳ", "cong xa" finds "Cổng xã Một"), every word of `q` somewhere in it; names
    that start with `q` first, then the shorter; up to `limit` of each."""
    inventory = context.inventory()
    found = _index.search(inventory, q, limit)

    def names(area_id: str) -> list[str]:
        return [area.name for area in inventory.area_path(area_id)]

    return SearchResult(
        devices=[
            DeviceFound(
                id=d.id,
                name=d.name,
                device_class=d.device_class,
                area_id=d.area_id,
                path=names(d.area_id),
            )
            for d in found.devices
        ],
        areas=[
            PlaceOnMap(id=a.id, name=a.name, kind=a.kind, path=names(a.id)[:-1])
            for a in found.areas
        ],
    )
