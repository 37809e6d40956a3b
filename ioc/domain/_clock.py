"""The one wall clock: milliseconds since the epoch, the unit of every time ioc stores."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

# Anything that tells the time in epoch milliseconds: `now_ms`, a test's manual clock, the
# demo's accelerated clock.
Clock = Callable[[], int]


def now_ms() -> int:
    """Milliseconds since the epoch, now."""
    return time.time_ns() // 1_000_000


def iso_utc(ms: int) -> str:
    """An epoch-millisecond time as ISO 8601 in UTC: 2026-11-29T08:00:00.000Z."""
    return (
        datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
