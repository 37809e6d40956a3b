"""Strict loaders: unknown keys, wrong types and dangling references fail with file and field."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc.config.documents import read_model
from ioc.domain import (
    DEVICE_ID_PATTERN,
    RESERVED_CLASS_NAMES,
    Area,
    Device,
    Inventory,
    InventoryError,
    MetricSpec,
    MetricType,
    Profile,
)
from ioc.inventory._errors import CatalogError

_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
_TAG_PATTERN = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"
# Tag names the store writes itself; an area kind must not shadow them.
RESERVED_TAG_NAMES = frozenset({"device_id", "registered", "time", "class", "type"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Label(_Strict):
    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class _MetricModel(_Strict):
    type: Literal["number", "bool", "string"]
    unit: str = ""
    min: float | None = None
    max: float | None = None
    label: _Label


class _ProfileModel(_Strict):
    class_: str = Field(alias="class", pattern=_NAME_PATTERN)
    label: _Label
    report_interval_s: float = Field(gt=0, le=86400)
    down_after_s: float = Field(gt=0, le=7 * 86400)
    metrics: dict[str, _MetricModel] = Field(min_length=1)
    events: list[str] = []

    @field_validator("class_")
    @classmethod
    def _not_reserved_class(cls, name: str) -> str:
        if name in RESERVED_CLASS_NAMES:
            raise ValueError(f"class {name!r} is reserved for ioc's own topics")
        return name

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, metrics: dict[str, _MetricModel]) -> dict[str, _MetricModel]:
        for name, metric in metrics.items():
            if not _valid_name(name):
                raise ValueError(f"metric name {name!r} must match {_NAME_PATTERN}")
            if metric.min is not None and metric.max is not None and metric.min > metric.max:
                raise ValueError(f"metric {name!r} has min {metric.min} above max {metric.max}")
        return metrics


class _AreaModel(_Strict):
    id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(pattern=_NAME_PATTERN)
    parent: str | None = None

    @field_validator("kind")
    @classmethod
    def _not_reserved(cls, kind: str) -> str:
        if kind in RESERVED_TAG_NAMES:
            raise ValueError(f"area kind {kind!r} is reserved")
        return kind


class _DeviceModel(_Strict):
    id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    class_: str = Field(alias="class")
    area: str
    name: str = Field(min_length=1, max_length=200)
    # Both, or neither for a device whose position is not known (it stays off the map).
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    # 0, 0 is where a sheet's empty cells land, so it is refused unless said to be meant.
    position_at_zero: bool = False
    depends_on: list[str] = []
    tags: list[Annotated[str, Field(pattern=_TAG_PATTERN)]] = []
    # When it entered the inventory (a date is midnight UTC); none: it was always there.
    since: AwareDatetime | date | None = None

    @model_validator(mode="after")
    def _real_position(self) -> _DeviceModel:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither (no known position)")
        if self.lat == 0 and self.lon == 0 and not self.position_at_zero:
            raise ValueError(
                "lat 0, lon 0 is in the Gulf of Guinea, where empty cells of a sheet land: "
                "leave lat and lon out if the position is not known, or set "
                "position_at_zero: true if the device really is there"
            )
        return self

    @property
    def since_ms(self) -> int | None:
        """`since` as epoch milliseconds."""
        if self.since is None:
            return None
        moment = self.since
        if not isinstance(moment, datetime):
            moment = datetime.combine(moment, time(), tzinfo=UTC)
        return int(moment.timestamp() * 1000)


class _InventoryModel(_Strict):
    version: Literal[1]
    areas: list[_AreaModel] = Field(min_length=1)
    devices: list[_DeviceModel]


def _valid_name(name: str) -> bool:
    return re.fullmatch(_NAME_PATTERN, name) is not None


def load_profiles(directory: Path) -> dict[str, Profile]:
    """Read every *.yaml profile in a directory; raise CatalogError naming each mistake."""
    files = sorted(p for p in directory.glob("*.yaml") if p.is_file())
    if not files:
        raise CatalogError(f"{directory}: no device profiles (*.yaml) found")
    profiles: dict[str, Profile] = {}
    for path in files:
        model = read_model(path, _ProfileModel, CatalogError)
        if model.class_ in profiles:
            raise CatalogError(f"{path}: class {model.class_!r} is defined by another profile too")
        profiles[model.class_] = _to_profile(model)
    return profiles


def _to_profile(model: _ProfileModel) -> Profile:
    metrics = {
        name: MetricSpec(
            name=name,
            type=MetricType(metric.type),
            unit=metric.unit,
            minimum=metric.min if metric.min is not None else float("-inf"),
            maximum=metric.max if metric.max is not None else float("inf"),
            label_vi=metric.label.vi,
            label_en=metric.label.en,
        )
        for name, metric in model.metrics.items()
    }
    return Profile(
        device_class=model.class_,
        label_vi=model.label.vi,
        label_en=model.label.en,
        report_interval_s=model.report_interval_s,
        down_after_s=model.down_after_s,
        metrics=metrics,
        events=frozenset(model.events),
    )


def load_inventory(path: Path, profiles: dict[str, Profile]) -> Inventory:
    """Read an inventory (YAML or JSON) and check it against itself and the profiles."""
    model = read_model(path, _InventoryModel, CatalogError)
    for device in model.devices:
        if device.class_ not in profiles:
            known = ", ".join(sorted(profiles))
            raise CatalogError(
                f"{path}: devices[{device.id!r}].class: unknown class {device.class_!r} "
                f"(profiles define: {known})"
            )
    areas = [Area(a.id, a.name, a.kind, a.parent) for a in model.areas]
    devices = [
        Device(
            d.id,
            d.class_,
            d.area,
            d.name,
            d.lat,
            d.lon,
            tuple(d.depends_on),
            frozenset(d.tags),
            d.since_ms,
        )
        for d in model.devices
    ]
    try:
        return Inventory.build(areas, devices)
    except InventoryError as exc:
        raise CatalogError(f"{path}: {exc}") from exc
