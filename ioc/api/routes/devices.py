"""Devices: a filtered list, one device with its last values and open alerts, one metric's
series from the telemetry store, and GeoJSON for the map."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel

from ioc.alerts import OPEN_STATES
from ioc.api._models import AlertPublic
from ioc.api._overview import DeviceStatus
from ioc.api._responses import snapshot_response
from ioc.api.deps import Context, Live, Viewer, problems
from ioc.domain import Aggregate, DeliveryError, Device, MetricType

router = APIRouter(tags=["devices"])

MAX_SERIES_POINTS = 10_000
DEFAULT_POINTS = 300  # what a chart on a screen can show
DEFAULT_SPAN_MS = 24 * 3600 * 1000


class DevicePublic(BaseModel):
    """A device and how it stands."""

    id: str
    device_class: str
    name: str
    area_id: str
    lat: float | None  # null: no known position
    lon: float | None
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


class LastValues(BaseModel):
    """A device's newest stored reading."""

    at_ms: int
    metrics: dict[str, float | bool | str]


class MetricPublic(BaseModel):
    """A metric a device's class reports."""

    name: str
    type: MetricType
    unit: str


class DeviceDetail(BaseModel):
    """One device, its last values and its open alerts; where it stands (the names of its
    areas from the root) and what its class reports."""

    device: DevicePublic
    area_path: list[str]
    metrics: list[MetricPublic]
    last: LastValues | None
    telemetry_error: str | None  # why the last values could not be read, when they could not
    open_alerts: list[AlertPublic]


class SeriesPublic(BaseModel):
    """One metric of one device, one point per non-empty step."""

    device_id: str
    metric: str
    unit: str
    aggregate: Aggregate
    step_s: int
    start_ms: int
    end_ms: int
    points: list[tuple[int, float | bool | str]]


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


def _device(context: Context, device_id: str) -> Device:
    device = context.inventory().devices.get(device_id)
    if device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id!r}")
    return device


@router.get("/devices", responses=problems(404))
def list_devices(
    context: Context,
    live: Live,
    _caller: Viewer,
    device_class: Annotated[str | None, Query(alias="class", max_length=64)] = None,
    area: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[Literal["up", "down"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DevicePage:
    """Devices by class, area subtree and state."""
    inventory = context.inventory()
    if area is not None and area not in inventory.areas:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no area {area!r}")
    standing = live.standing()
    areas = inventory.subtree(area) if area is not None else None
    chosen = [
        device
        for device in inventory.devices.values()
        if (device_class is None or device.device_class == device_class)
        and (areas is None or device.area_id in areas)
        and (
            state is None
            or (device.id in standing and standing[device.id].down) == (state == "down")
        )
    ]
    return DevicePage(
        items=[live_public(d, live) for d in chosen[offset : offset + limit]],
        total=len(chosen),
        limit=limit,
        offset=offset,
    )


def live_public(device: Device, live: Live) -> DevicePublic:
    """A device with its standing from the live view."""
    return _public(device, live.status(device.id))


@router.get("/devices/{device_id}", responses=problems(404))
def get_device(device_id: str, context: Context, live: Live, _caller: Viewer) -> DeviceDetail:
    """One device with its newest stored values and its open alerts."""
    # One reading of the inventory: a change in between (a reform retiring its area) must
    # not pair the device of one version with the areas of the next.
    inventory = context.inventory()
    device = inventory.devices.get(device_id)
    if device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id!r}")
    open_alerts = context.alerts.list_alerts(OPEN_STATES, device_ids=[device_id], limit=1000)
    last, error = None, None
    if context.telemetry is None:
        error = "no telemetry store is configured for the API"
    else:
        try:
            found = context.telemetry.latest(device.device_class, [device_id])
        except DeliveryError as exc:
            error = str(exc)
        else:
            if found:
                last = LastValues(at_ms=found[0].ts_ms, metrics=dict(found[0].metrics))
    profile = context.profiles.get(device.device_class)
    return DeviceDetail(
        device=live_public(device, live),
        area_path=[area.name for area in inventory.area_path(device.area_id)],
        metrics=[
            MetricPublic(name=name, type=spec.type, unit=spec.unit)
            for name, spec in (profile.metrics.items() if profile is not None else ())
        ],
        last=last,
        telemetry_error=error,
        open_alerts=[AlertPublic.of(a) for a in open_alerts],
    )


@router.get("/devices/{device_id}/series/{metric}", responses=problems(404, 503))
def get_series(
    device_id: str,
    metric: Annotated[str, Path(max_length=64)],
    context: Context,
    _caller: Viewer,
    start: datetime | None = None,
    end: datetime | None = None,
    step_s: Annotated[int | None, Query(ge=1, le=31 * 86400)] = None,
    aggregate: Aggregate | None = None,
) -> SeriesPublic:
    """One metric downsampled to a step (default: about 300 points over the last 24 h).

    Numbers take mean / min / max / last (default mean); flags and texts take last."""
    device = _device(context, device_id)
    spec = context.profiles[device.device_class].metrics.get(metric)
    if spec is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"{device.device_class} devices have no metric {metric!r}"
        )
    numeric = spec.type is MetricType.NUMBER
    chosen = aggregate or (Aggregate.MEAN if numeric else Aggregate.LAST)
    if not numeric and chosen is not Aggregate.LAST:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{metric} is a {spec.type} metric: only aggregate=last applies",
        )
    end_ms = context.epoch_ms(end) if end is not None else context.clock()
    start_ms = context.epoch_ms(start) if start is not None else end_ms - DEFAULT_SPAN_MS
    if start_ms >= end_ms:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "start must be before end")
    span_s = (end_ms - start_ms) / 1000
    step = step_s or max(1, math.ceil(span_s / DEFAULT_POINTS))
    if span_s / step > MAX_SERIES_POINTS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"that is more than {MAX_SERIES_POINTS:,} points: take a longer step",
        )
    if context.telemetry is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no telemetry store configured")
    points = context.telemetry.series(
        device.device_class, device_id, metric, start_ms, end_ms, step, chosen
    )
    return SeriesPublic(
        device_id=device_id,
        metric=metric,
        unit=spec.unit,
        aggregate=chosen,
        step_s=step,
        start_ms=start_ms,
        end_ms=end_ms,
        points=[(p.ts_ms, p.value) for p in points],
    )


@router.get(
    "/map.geojson",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def map_geojson(request: Request, live: Live, _caller: Viewer) -> Response:
    """Every device as a GeoJSON point with its class, state and worst open severity; the
    `event_id` member says which stream event it is current to."""
    return snapshot_response(request, live.geojson(), "application/geo+json")
