"""Ingest counters: what came in, what was stored, what was refused and why."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class IngestStats:
    """Monotonic counters; each is written by one thread, `snapshot` copies them consistently."""

    received: int = 0
    accepted: int = 0
    stored: int = 0
    duplicates: int = 0
    ts_adjusted: int = 0
    unregistered: int = 0
    batches: int = 0
    store_retries: int = 0
    backpressure_waits: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    last_write_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_rejection(self, reason: str) -> None:
        """Count one rejection (both the MQTT thread and the flusher reject)."""
        with self.lock:
            self.rejected[reason] += 1

    def count_stored(self, items: int, write_s: float) -> None:
        """Count a stored batch (several writer threads settle batches)."""
        with self.lock:
            self.stored += items
            self.batches += 1
            self.last_write_s = write_s

    @property
    def rejected_total(self) -> int:
        """All rejections, whatever the reason."""
        return sum(self.rejected.values())

    def snapshot(self) -> IngestStats:
        """A copy that no thread changes."""
        with self.lock:
            return dataclasses.replace(self, rejected=Counter(self.rejected), lock=threading.Lock())
