"""What a cluster's ingest may not hear, kept by the leader.

Mosquitto 2.0 does not restore shared subscriptions from its persistence file: after a broker
restart, what devices publish before each node's ingest subscribes again reaches no member of
the ingest group and is dropped, though the broker acknowledged it to the device. The leader's
own session (the rules', a plain subscription) is restored and queues it. So for a while after
that session connects, and whenever this node's ingest is not subscribed, the leader stores
what it judges too; a point stored twice is the same point (docs/operations.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from ioc.domain import DeliveryError, TelemetryItem
from ioc.ingest import TelemetrySink

log = logging.getLogger("ioc.app")

KEEP_AFTER_CONNECT_S = 30.0  # covers the queue the session delivers when it comes back


class GapKeeper:
    """Stores the leader's items while the ingest group may be missing them."""

    def __init__(
        self,
        store: TelemetrySink,
        ingest_subscribed: Callable[[], bool],
        keep_s: float = KEEP_AFTER_CONNECT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ingest_subscribed = ingest_subscribed
        self._keep_s = keep_s
        self._clock = clock
        self._connections = 0
        self._since = clock()
        self.kept = 0  # items stored by the leader
        self.failed = 0  # items it could not store (the store away as well)

    def keeping(self, connections: int) -> bool:
        """Whether to store now, given how many times the leader's session has connected."""
        if connections != self._connections:
            self._connections, self._since = connections, self._clock()
        return self._clock() - self._since < self._keep_s or not self._ingest_subscribed()

    def keep(self, items: Sequence[TelemetryItem]) -> None:
        """Store them; the store failing too is counted and logged, not raised (the rules go
        on judging: alerting must not wait for the telemetry store)."""
        if not items:
            return
        try:
            self._store.write(items)
        except DeliveryError as exc:
            if not self.failed:
                log.error("the leader could not keep what ingest may have missed: %s", exc)
            self.failed += len(items)
            return
        self.kept += len(items)
