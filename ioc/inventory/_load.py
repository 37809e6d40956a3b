"""Strict loaders of device profiles and inventory files: unknown keys, wrong types and dangling
references fail with file and field (the inventory's format is `_schema.py`)."""

from __future__ import annotations

import re
from datetime import tzinfo
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ioc.config.documents import read_model
from ioc.domain import (
    RESERVED_CLASS_NAMES,
    Inventory,
    MetricSpec,
    MetricType,
    Profile,
)
from ioc.inventory._errors import CatalogError
from ioc.inventory._schema import NAME_PATTERN, InventoryDocument, inventory_of


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
    class_: str = Field(alias="class", pattern=NAME_PATTERN)
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
                raise ValueError(f"metric name {name!r} must match {NAME_PATTERN}")
            if metric.min is not None and metric.max is not None and metric.min > metric.max:
                raise ValueError(f"metric {name!r} has min {metric.min} above max {metric.max}")
        return metrics


def _valid_name(name: str) -> bool:
    return re.fullmatch(NAME_PATTERN, name) is not None


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


def load_inventory(path: Path, profiles: dict[str, Profile], zone: tzinfo) -> Inventory:
    """Read an inventory (YAML or JSON) and check it against itself and the profiles; its
    dates are days in `zone`."""
    document = read_model(path, InventoryDocument, CatalogError)
    return inventory_of(document, profiles, str(path), zone)
