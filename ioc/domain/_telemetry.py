"""What ingest makes of a message: a reading, an event, a status change, or a rejection."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import msgspec

MetricValue = float | bool | str


class RejectReason(StrEnum):
    """Why a message, or one metric of it, was not stored."""

    BAD_TOPIC = "bad_topic"
    TOO_LARGE = "too_large"
    BAD_JSON = "bad_json"
    BAD_SCHEMA = "bad_schema"
    BAD_TIMESTAMP = "bad_timestamp"
    UNKNOWN_CLASS = "unknown_class"
    UNKNOWN_DEVICE = "unknown_device"
    CLASS_MISMATCH = "class_mismatch"
    UNKNOWN_METRIC = "unknown_metric"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_EVENT = "unknown_event"
    NO_VALID_METRICS = "no_valid_metrics"
    STORE_REJECTED = "store_rejected"
    INTERNAL_ERROR = "internal_error"


# A msgspec Struct rather than a dataclass: one is made per message, and its __init__ is C
# (a quarter of a slotted dataclass's). gc=False: it holds text, numbers and a dict of them,
# so it is never in a reference cycle; the collector need not count or visit it.
class Reading(msgspec.Struct, frozen=True, gc=False):
    """Validated telemetry of one device at one instant."""

    device_class: str
    device_id: str
    ts_ms: int
    metrics: dict[str, MetricValue]
    seq: int | None = None
    registered: bool = True
    ts_adjusted: bool = False


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A discrete event a device reported (door opened, reboot...)."""

    device_class: str
    device_id: str
    ts_ms: int
    type: str
    data_json: str
    registered: bool = True
    ts_adjusted: bool = False


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A device's retained online/offline status (offline is also its last will)."""

    device_class: str
    device_id: str
    ts_ms: int
    online: bool
    retained: bool
    registered: bool = True


# What one accepted message becomes: the unit ingest stores and the rules judge.
TelemetryItem = Reading | DeviceEvent | StatusChange


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message, or part of one, that was not stored, with why and the raw bytes."""

    reason: RejectReason
    detail: str
    topic: str
    payload: bytes
    received_ms: int


class Aggregate(StrEnum):
    """How a series is downsampled into steps."""

    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    LAST = "last"


@dataclass(frozen=True, slots=True)
class LatestValues:
    """A device's most recent stored reading."""

    device_id: str
    ts_ms: int
    metrics: dict[str, MetricValue]


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One step of a downsampled series: the step's start and its aggregate."""

    ts_ms: int
    value: MetricValue


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """A numeric metric of one device (or a group) over a period: how many readings there
    were, their mean, the lowest and the highest."""

    count: int
    mean: float
    minimum: float
    maximum: float

    def merge(self, other: MetricSummary) -> MetricSummary:
        """Both together: the mean weighted by the readings behind each."""
        count = self.count + other.count
        mean = (self.mean * self.count + other.mean * other.count) / count if count else 0.0
        return MetricSummary(
            count, mean, min(self.minimum, other.minimum), max(self.maximum, other.maximum)
        )
