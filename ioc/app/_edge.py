"""What every collector at the edge takes from the settings."""

from __future__ import annotations

from pathlib import Path

from ioc.config import Settings
from ioc.edge import EdgeOptions


def edge_options(
    settings: Settings, kind: str, collector_id: str, buffer_path: Path | None
) -> EdgeOptions:
    """Broker (the collector's id as client id), topics, and its buffer file (by default
    `<data dir>/<kind>-<id>.db`)."""
    return EdgeOptions(
        broker=settings.broker_address(collector_id),
        topic_prefix=settings.topic_prefix,
        buffer_path=buffer_path or settings.data_dir / f"{kind}-{collector_id}.db",
    )
