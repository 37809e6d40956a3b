"""The live status line of `ioc ingest` and `ioc demo`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ioc.ingest import IngestStats, LiveState


@dataclass
class StatusLine:
    """Renders counters as one line, with rates since the previous line."""

    stats: IngestStats
    live: LiveState
    inventory_size: int
    _last_received: int = 0
    _last_time: float = field(default_factory=time.monotonic)

    def render(self, broker_connected: bool) -> str:
        """One line: devices online, message rate, stored, rejected by reason, duplicates."""
        snapshot = self.stats.snapshot()
        now = time.monotonic()
        rate = (snapshot.received - self._last_received) / max(now - self._last_time, 1e-9)
        self._last_received, self._last_time = snapshot.received, now
        rejected = snapshot.rejected
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(rejected.items()))
        line = (
            f"{self.live.online_count()}/{self.inventory_size} devices online | "
            f"{rate:,.0f} msg/s | stored {snapshot.stored:,} | "
            f"rejected {snapshot.rejected_total:,}"
            + (f" ({reasons})" if reasons else "")
            + f" | duplicates {snapshot.duplicates:,}"
        )
        if not broker_connected:
            line += " | BROKER DOWN"
        if snapshot.store_retries:
            line += f" | store retries {snapshot.store_retries:,}"
        return line
