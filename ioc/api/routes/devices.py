"""Devices: a filtered list, one device with its open alerts, and GeoJSON for the map."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from ioc.alerts import alert_json
from ioc.api._context import ApiContext
from ioc.api._overview import UP, DeviceStatus, device_status
from ioc.api.deps import Context, Viewer
from ioc.domain import AlertState, Device

router = APIRouter(tags=["devices"])

_OPEN = [AlertState.FIRING, AlertState.ACKNOWLEDGED]


class DevicePublic(BaseModel):
    """A device and how it stands."""

    id: str
    device_class: str
    name: str
    area_id: str
    lat: float
    lon: float
    depends_on: list[str]
    tags: list[str]
    state: Literal["up", "down"]
    worst_severity: str | None


class DevicePage(BaseModel):
    """A page of devices, in inventory order."""

    items: list[DevicePublic]
    total: int
    limit: int
    offset: int


def _standing(context: ApiContext) -> dict[str, DeviceStatus]:
    open_alerts = context.alerts.list_alerts(_OPEN, limit=10_000_000)
    return device_status(open_alerts, context.rule_roles)


def _public(device: Device, standing: DeviceStatus) -> DevicePublic:
    return DevicePublic(
        id=device.id,
        device_class=device.device_class,
        name=device.name,
        area_id=device.area_id,
        lat=device.lat,
        lon=device.lon,
        depends_on=list(device.depends_on),
        tags=sorted(device.tags),
        state="down" if standing.down else "up",
        worst_severity=standing.worst.value if standing.worst else None,
    )


@router.get("/devices")
def list_devices(
    context: Context,
    _caller: Viewer,
    device_class: Annotated[str | None, Query(alias="class", max_length=64)] = None,
    area: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[Literal["up", "down"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DevicePage:
    """Devices by class, area subtree and state."""
    inventory = context.inventory
    if area is not None and area not in inventory.areas:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no area {area!r}")
    standing = _standing(context)
    areas = inventory.subtree(area) if area is not None else None
    chosen = []
    for device in inventory.devices.values():
        if device_class is not None and device.device_class != device_class:
            continue
        if areas is not None and device.area_id not in areas:
            continue
        public = _public(device, standing.get(device.id, UP))
        if state is not None and public.state != state:
            continue
        chosen.append(public)
    return DevicePage(
        items=chosen[offset : offset + limit], total=len(chosen), limit=limit, offset=offset
    )


@router.get("/devices/{device_id}")
def get_device(device_id: str, context: Context, _caller: Viewer) -> dict[str, object]:
    """One device with its open alerts."""
    device = context.inventory.devices.get(device_id)
    if device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id!r}")
    open_alerts = [
        a for a in context.alerts.list_alerts(_OPEN, limit=10_000_000) if a.device_id == device_id
    ]
    standing = device_status(open_alerts, context.rule_roles).get(device_id, UP)
    return {
        "device": _public(device, standing).model_dump(),
        "open_alerts": [alert_json(a) for a in open_alerts],
    }


@router.get("/map.geojson")
def map_geojson(context: Context, _caller: Viewer) -> dict[str, object]:
    """Every device as a GeoJSON point with its class, state and worst open severity."""
    standing = _standing(context)
    features = []
    for device in context.inventory.devices.values():
        current = standing.get(device.id, UP)
        features.append(
            {
                "type": "Feature",
                "id": device.id,
                "geometry": {"type": "Point", "coordinates": [device.lon, device.lat]},
                "properties": {
                    "name": device.name,
                    "class": device.device_class,
                    "area_id": device.area_id,
                    "state": "down" if current.down else "up",
                    "worst_severity": current.worst.value if current.worst else None,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
