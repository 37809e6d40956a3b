"""What a telemetry store offers: batched writes, latest values and downsampled series."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ioc.domain import (
    Aggregate,
    LatestValues,
    MetricSummary,
    SeriesPoint,
    TelemetryItem,
)


class TelemetryStore(Protocol):
    """The store as the rest of ioc sees it."""

    def write(self, items: Sequence[TelemetryItem]) -> None:
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

    def summaries(
        self, device_class: str, metric: str, start_ms: int, end_ms: int
    ) -> dict[str, MetricSummary]:
        """A numeric metric over [start, end): count, mean, lowest and highest, per device of
        the class that reported it."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    def count(self, device_class: str) -> int:
        """How many readings of a class are stored (for checks and benchmarks)."""

    def close(self) -> None:
        """Release connections."""
