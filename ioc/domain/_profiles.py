"""Device profiles: what a device class reports and which values are physically plausible."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum


class MetricType(StrEnum):
    """The wire type of a metric value."""

    NUMBER = "number"
    BOOL = "bool"
    STRING = "string"


MAX_STRING_METRIC_CHARS = 256

# Topic branches under the prefix where ioc publishes itself (alerts, notifications): no device
# class may take these names, and ingest does not read them as device messages.
RESERVED_CLASS_NAMES = ("notify", "alerts")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric of a device class: its type, unit, valid range and labels."""

    name: str
    type: MetricType
    unit: str = ""
    minimum: float = -math.inf
    maximum: float = math.inf
    label_vi: str = ""
    label_en: str = ""

    def check(self, value: object) -> str | None:
        """Return None if the value fits this metric, else the reject reason name."""
        if self.type is MetricType.NUMBER:
            # Exact types: bool is an int subclass, and true/false is not a number on the wire.
            if type(value) is not float and type(value) is not int:
                return "wrong_type"
            if not self.minimum <= value <= self.maximum:
                return "out_of_range"
            return None
        if self.type is MetricType.BOOL:
            return None if isinstance(value, bool) else "wrong_type"
        if not isinstance(value, str):
            return "wrong_type"
        if len(value) > MAX_STRING_METRIC_CHARS or not value.isprintable():
            return "out_of_range"
        return None


@dataclass(frozen=True, slots=True)
class Profile:
    """A device class: its metrics, events, report interval and silence window."""

    device_class: str
    label_vi: str
    label_en: str
    report_interval_s: float
    down_after_s: float
    metrics: dict[str, MetricSpec]
    events: frozenset[str] = field(default_factory=frozenset)
