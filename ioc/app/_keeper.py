"""What a cluster's ingest may not hear, kept by the leader.

Mosquitto 2.0 does not restore shared subscriptions from its persistence file: after a broker
restart, what devices publish before each node's ingest subscribes again reaches no member of
the ingest group and is dropped, though the broker acknowledged it to the device. The leader's
own session (the rules', a plain subscription) is restored and queues it. So for a while after
that session connects, and whenever this node's ingest is not subscribed, the leader stores
what it judges too; a point stored twice is the same point (docs/operations.md).

The keeper writes on a thread of its own: the rules' intake never waits for the telemetry
store (a store that hangs would otherwise starve the rules of every report, and they would call
every device silent). A message it keeps is acknowledged to the broker only once the rules have
judged it and the keeper has stored it (`JointAcks`); one it could not store is never
acknowledged, so the broker gives it again to whoever leads next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from ioc.domain import DeliveryError, TelemetryItem
from ioc.ingest import TelemetrySink

log = logging.getLogger("ioc.app")

KEEP_AFTER_CONNECT_S = 30.0  # covers the queue the session delivers when it comes back
MAX_WAITING = 100_000  # items held while the store is away; beyond, left to the broker
RETRY_S = 1.0
STOP_GRACE_S = 5.0  # at a stop, how long to go on trying to store what is held


class JointAcks:
    """Acknowledges a message once each party that must handle it has: the rules (always) and
    the keeper (for the messages it keeps)."""

    def __init__(self, acknowledge: Callable[[list[int]], None]) -> None:
        self._acknowledge = acknowledge
        self._lock = threading.Lock()
        self._owed: dict[int, int] = {}  # token: parties still to report, where two must

    def both(self, tokens: Iterable[int]) -> None:
        """These messages wait for the rules and the keeper (before either handles them)."""
        with self._lock:
            for token in tokens:
                self._owed[token] = 2

    def done(self, tokens: Iterable[int]) -> None:
        """One party has handled these: acknowledge those nobody else owes."""
        ready = []
        with self._lock:
            for token in tokens:
                owed = self._owed.pop(token, 1) - 1
                if owed:
                    self._owed[token] = owed
                else:
                    ready.append(token)
        if ready:
            self._acknowledge(ready)


class GapKeeper:
    """Stores the leader's items while the ingest group may be missing them (a service: its
    writer runs from `start` to `stop`)."""

    name = "gap keeper"
    failure: BaseException | None = None

    def __init__(
        self,
        store: TelemetrySink,
        ingest_subscribed: Callable[[], bool],
        keep_s: float = KEEP_AFTER_CONNECT_S,
        clock: Callable[[], float] = time.monotonic,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self._store = store
        self._ingest_subscribed = ingest_subscribed
        self._keep_s = keep_s
        self._clock = clock
        self._max_waiting = max_waiting
        self._connections = 0
        self._since = clock()
        self._waiting: deque[tuple[Sequence[TelemetryItem], Callable[[], None]]] = deque()
        self._waiting_items = 0
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="gap keeper", daemon=True)
        self.kept = 0  # items stored by the leader
        self.refused = 0  # items left to the broker: too many waiting already
        self.retries = 0  # writes tried again (the store away)

    def keeping(self, connections: int) -> bool:
        """Whether to store now, given how many times the leader's session has connected."""
        if connections != self._connections:
            self._connections, self._since = connections, self._clock()
        return self._clock() - self._since < self._keep_s or not self._ingest_subscribed()

    def keep(self, items: Sequence[TelemetryItem], stored: Callable[[], None]) -> bool:
        """Hand items over to be stored, at once (never waiting for the store); `stored` is
        called once they are. False when too many wait already: the caller must then not
        acknowledge their messages (the broker gives them again later)."""
        with self._wake:
            if self._stopping or self._waiting_items + len(items) > self._max_waiting:
                self.refused += len(items)
                return False
            self._waiting.append((items, stored))
            self._waiting_items += len(items)
            self._wake.notify()
        return True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Store what waits (for up to STOP_GRACE_S), then stop; what is left is never
        acknowledged."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        try:
            self._write_all()
        except BaseException as exc:  # supervised: recorded, logged once, and the term ends
            self.failure = exc
            log.exception("the gap keeper stopped")

    def _write_all(self) -> None:
        give_up_at: float | None = None
        while True:
            with self._wake:
                while not self._waiting and not self._stopping:
                    self._wake.wait()
                if not self._waiting:
                    return
                items, stored = self._waiting[0]
                if self._stopping and give_up_at is None:
                    give_up_at = time.monotonic() + STOP_GRACE_S
            if give_up_at is not None and time.monotonic() > give_up_at:
                log.warning("%d items not kept at stop: their messages stay with the broker",
                            self._waiting_items)  # fmt: skip
                return
            try:
                self._store.write(items)
            except DeliveryError as exc:
                if not self.retries:
                    log.error("the leader cannot keep what ingest may have missed yet: %s", exc)
                self.retries += 1
                with self._wake:
                    self._wake.wait(RETRY_S)
                continue
            with self._wake:
                self._waiting.popleft()
                self._waiting_items -= len(items)
            self.kept += len(items)
            stored()
