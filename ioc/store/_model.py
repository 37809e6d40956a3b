"""What a telemetry store offers: batched writes, latest values and downsampled series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ioc.domain import DeviceEvent, MetricValue, Reading, StatusChange

Writable = Reading | DeviceEvent | StatusChange


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


class TelemetryStore(Protocol):
    """The store as the rest of ioc sees it."""

    def write(self, items: Sequence[Writable]) -> None:
        """Store a batch; raise StoreUnavailable, StoreRejected or StoreMisconfigured."""

    def latest(
        self, device_class: str, device_ids: Sequence[str] | None = None
    ) -> list[LatestValues]:
        """The newest stored reading of each device of a class (all, or those listed)."""

    def series(
        self,
        device_class: str,
        device_id: str,
        metric: str,
        start_ms: int,
        end_ms: int,
        step_s: int,
        aggregate: Aggregate,
    ) -> list[SeriesPoint]:
        """One metric of one device over [start, end), one point per non-empty step."""

    def count(self, device_class: str) -> int:
        """How many readings of a class are stored (for checks and benchmarks)."""

    def close(self) -> None:
        """Release connections."""
