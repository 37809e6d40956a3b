"""A clock the test moves: milliseconds since the epoch."""

from __future__ import annotations


class ManualClock:
    """Stands still until the test moves `now`."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def __call__(self) -> int:
        return self.now
