"""A clock the test moves: milliseconds since the epoch; the zones tests speak in."""

from __future__ import annotations

from ioc.domain import DEFAULT_ZONE, zone_named

VIETNAM = zone_named(DEFAULT_ZONE)  # the deployment's default: UTC+7
UTC = zone_named("UTC")


class ManualClock:
    """Stands still until the test moves `now`."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def __call__(self) -> int:
        return self.now
