"""The ingest pipeline: decode -> drop duplicates -> live state -> batch -> store -> acknowledge.

Messages are taken from the MQTT thread with `offer`; a flusher thread writes batches bounded
by size and age, records rejections in the dead-letter log, and only then acknowledges the
batch's messages to the broker. A store that is away is retried with backoff while the number
of unacknowledged messages stays bounded (the MQTT thread blocks, the broker keeps the rest).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar

from ioc.domain import (
    Clock,
    NeedsOperator,
    Reading,
    Refused,
    Rejection,
    RejectReason,
    RetryLater,
    StatusChange,
    TelemetryItem,
)
from ioc.domain import now_ms as wall_clock
from ioc.ingest._decode import Decoder, DecodeResult
from ioc.ingest._live import LiveState
from ioc.ingest._stats import IngestStats

log = logging.getLogger("ioc.ingest")

AckToken = int  # opaque here: the consumer's handle to acknowledge a message with
# topic, payload, retained, token: one message as the consumer hands it over
Message = tuple[str, bytes, bool, AckToken]
_T = TypeVar("_T")
Observer = Callable[[TelemetryItem], None]


class TelemetrySink(Protocol):
    """Where accepted items go (the telemetry store)."""

    def write(self, items: Sequence[TelemetryItem]) -> None:
        """Store a batch; raise RetryLater, Refused or NeedsOperator."""


class RejectionSink(Protocol):
    """Where rejections go (the dead-letter log)."""

    def record(self, rejections: Sequence[Rejection]) -> None:
        """Keep a batch of rejections; raise RetryLater if that is not possible now."""


@dataclass(slots=True)
class _Batch:
    items: list[TelemetryItem] = field(default_factory=list)
    sources: list[Message] = field(default_factory=list)  # each item's message
    rejections: list[Rejection] = field(default_factory=list)
    tokens: list[AckToken] = field(default_factory=list)
    opened_at: float = 0.0


class _RecentSequences:
    """The last few (seq, ts) pairs of each device, to spot QoS 1 redeliveries."""

    def __init__(self, per_device: int = 32) -> None:
        self._per_device = per_device
        # Per device, a dict used as an ordered set: oldest first, one lookup per message.
        self._seen: dict[str, dict[tuple[int, int], None]] = {}

    def is_duplicate(self, device_id: str, seq: int, ts_ms: int) -> bool:
        seen = self._seen.get(device_id)
        if seen is None:
            seen = self._seen[device_id] = {}
        key = (seq, ts_ms)
        if key in seen:
            return True
        seen[key] = None
        if len(seen) > self._per_device:
            del seen[next(iter(seen))]
        return False


class Pipeline:
    """Validated, deduplicated, batched delivery with acknowledgement after storage."""

    def __init__(
        self,
        decoder: Decoder,
        sink: TelemetrySink,
        dead_letters: RejectionSink,
        stats: IngestStats,
        live: LiveState,
        batch_size: int,
        batch_interval_s: float,
        max_pending: int,
        writers: int = 2,
        now_ms: Clock = wall_clock,
        observers: Sequence[Observer] = (),
    ) -> None:
        self._decoder = decoder
        self._sink = sink
        self._dead_letters = dead_letters
        self.stats = stats
        self.live = live
        self._batch_size = batch_size
        self._batch_interval = batch_interval_s
        self._max_pending = max_pending
        self._writers = writers
        self._now_ms = now_ms
        self._observers = tuple(observers)
        self._recent = _RecentSequences()
        self._batch = _Batch()
        self._pending = 0
        # offer() takes the lock itself (a C call) rather than through the Condition's
        # Python-level __enter__: once per message, it shows.
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)

    @property
    def pending(self) -> int:
        """Messages taken but not yet acknowledged (the in-flight queue depth)."""
        return self._pending

    # -- the MQTT thread's side ------------------------------------------------------------

    def offer(self, topic: str, payload: bytes, retained: bool, token: AckToken) -> None:
        """Take one message; blocks while too many messages wait for the store."""
        self.offer_many([(topic, payload, retained, token)])

    def offer_many(self, messages: list[Message]) -> None:
        """Take messages in the order they came; blocks while taking them would leave more
        than `max_pending` (or, if they are more, more than they) waiting for the store."""
        now = self._now_ms()
        stats = self.stats
        decode = self._decoder.decode
        is_duplicate = self._recent.is_duplicate
        apply = self.live.apply
        observers = self._observers
        items: list[TelemetryItem] = []
        sources: list[Message] = []
        rejections: list[Rejection] = []
        # Counted here and added once: the status line reads them at most one read late.
        accepted = duplicates = unregistered = ts_adjusted = 0
        for message in messages:
            topic, payload, retained, _token = message
            try:
                result = decode(topic, payload, retained, now)
            except Exception as exc:  # a decoder bug must not make a poison message
                log.exception("decoder failed on a message from %r", topic[:200])
                result = DecodeResult(
                    None,
                    Rejection(RejectReason.INTERNAL_ERROR, repr(exc)[:500], topic, payload, now),
                )
            item = result.item
            if item is not None:
                if (
                    type(item) is Reading
                    and item.seq is not None
                    and is_duplicate(item.device_id, item.seq, item.ts_ms)
                ):
                    # A redelivery: its rejections, if any, were recorded the first time.
                    duplicates += 1
                    continue
                if isinstance(item, StatusChange):
                    # A retained status replayed at subscribe time is old news: state only.
                    store_it = not item.retained
                else:
                    store_it = True
                    ts_adjusted += item.ts_adjusted
                accepted += 1
                if not item.registered:
                    unregistered += 1
                apply(item)
                for observer in observers:
                    observer(item)
                if store_it:
                    items.append(item)
                    sources.append(message)
            if result.rejection is not None:
                rejections.append(result.rejection)
        stats.received += len(messages)
        stats.duplicates += duplicates
        stats.accepted += accepted
        stats.unregistered += unregistered
        stats.ts_adjusted += ts_adjusted
        with self._lock:
            if self._pending and self._pending + len(messages) > self._max_pending:
                stats.backpressure_waits += 1
                while self._pending and self._pending + len(messages) > self._max_pending:
                    self._ready.wait()
            batch = self._batch
            if not batch.tokens:
                batch.opened_at = time.monotonic()
            batch.tokens += [token for _topic, _payload, _retained, token in messages]
            self._pending += len(messages)
            batch.items += items
            batch.sources += sources
            batch.rejections += rejections
            if len(batch.tokens) >= self._batch_size:
                self._ready.notify_all()

    # -- the flusher's side ----------------------------------------------------------------

    def run_flusher(
        self, acknowledge: Callable[[list[AckToken]], None], stop: threading.Event
    ) -> None:
        """Deliver batches until stop is set, then deliver what is left once.

        Up to `writers` batches are written at once (the store uses both cores); their
        messages are acknowledged in the order they arrived. Raises NeedsOperator when the
        store cannot work without an operator's fix; the messages of unfinished batches stay
        unacknowledged, so the broker keeps them.
        """
        in_flight: deque[tuple[_Batch, Future[bool]]] = deque()
        with ThreadPoolExecutor(self._writers, thread_name_prefix="ingest-writer") as pool:
            try:
                while not stop.is_set():
                    while in_flight and in_flight[0][1].done():
                        self._settle_oldest(in_flight, acknowledge)
                    if len(in_flight) >= self._writers:
                        self._settle_oldest(in_flight, acknowledge)
                        continue
                    batch = self._next_batch(
                        stop, lambda: bool(in_flight) and in_flight[0][1].done()
                    )
                    if batch is not None:
                        future = pool.submit(self._deliver, batch, stop)
                        # A finished write wakes the wait above, so it is acknowledged at once.
                        future.add_done_callback(self._wake)
                        in_flight.append((batch, future))
                while in_flight:
                    self._settle_oldest(in_flight, acknowledge)
            finally:
                for _batch, future in in_flight:
                    future.cancel()
        self.flush(acknowledge)

    def _settle_oldest(
        self,
        in_flight: deque[tuple[_Batch, Future[bool]]],
        acknowledge: Callable[[list[AckToken]], None],
    ) -> None:
        batch, future = in_flight[0]
        stored = future.result()  # re-raises NeedsOperator from the writer
        in_flight.popleft()
        if stored:
            self._settle(batch, acknowledge)

    def flush(self, acknowledge: Callable[[list[AckToken]], None]) -> None:
        """Deliver whatever is buffered now (used by tests and at shutdown)."""
        batch = self._take_batch()
        if batch.tokens and self._deliver(batch, None):
            self._settle(batch, acknowledge)

    def _take_batch(self) -> _Batch:
        with self._ready:
            batch, self._batch = self._batch, _Batch()
            return batch

    def _next_batch(self, stop: threading.Event, interrupt: Callable[[], bool]) -> _Batch | None:
        """The next batch once full or old enough; None on stop or when interrupt() holds."""
        with self._ready:
            while not stop.is_set() and not interrupt():
                size = len(self._batch.tokens)
                if size >= self._batch_size:
                    break
                if size:
                    age = time.monotonic() - self._batch.opened_at
                    if age >= self._batch_interval:
                        break
                    self._ready.wait(self._batch_interval - age)
                else:
                    self._ready.wait(self._batch_interval)
            else:
                return None
            batch, self._batch = self._batch, _Batch()
            return batch

    def _wake(self, _future: object = None) -> None:
        with self._ready:
            self._ready.notify_all()

    def _settle(self, batch: _Batch, acknowledge: Callable[[list[AckToken]], None]) -> None:
        acknowledge(batch.tokens)
        with self._ready:
            self._pending -= len(batch.tokens)
            self._ready.notify_all()

    def _deliver(self, batch: _Batch, stop: threading.Event | None) -> bool:
        """Store the batch and its rejections; False if stopped before it could be stored."""
        started = time.monotonic()
        written, refused = self._retry(lambda: self._write(batch.items, batch.sources), stop)
        if not written or refused is None:
            return False
        batch.rejections.extend(refused)
        if batch.rejections:
            recorded, _ = self._retry(partial(self._dead_letters.record, batch.rejections), stop)
            if not recorded:
                return False
        # Counted once settled, so a message redelivered after a restart counts once.
        for rejection in batch.rejections:
            self.stats.count_rejection(rejection.reason.value)
        self.stats.count_stored(len(batch.items) - len(refused), time.monotonic() - started)
        return True

    def _write(self, items: list[TelemetryItem], sources: list[Message]) -> list[Rejection]:
        """Write items; halve a refused batch until the refused items are isolated."""
        if not items:
            return []
        try:
            self._sink.write(items)
            return []
        except Refused as exc:
            if len(items) == 1:
                topic, payload, _retained, _token = sources[0]
                return [
                    Rejection(RejectReason.STORE_REJECTED, str(exc), topic, payload, self._now_ms())
                ]
        half = len(items) // 2
        return self._write(items[:half], sources[:half]) + self._write(items[half:], sources[half:])

    def _retry(
        self, attempt: Callable[[], _T], stop: threading.Event | None
    ) -> tuple[bool, _T | None]:
        """Run attempt until it stops raising RetryLater; (False, None) if stopped meanwhile."""
        delay, failures = 0.2, 0
        while True:
            try:
                result = attempt()
            except RetryLater as exc:
                failures += 1
                self.stats.store_retries += 1
                if failures == 1:
                    log.warning("store unavailable, holding messages and retrying: %s", exc)
                if stop is None or stop.wait(delay):
                    return False, None
                delay = min(delay * 2, 30.0)
                continue
            except NeedsOperator:
                raise
            if failures:
                log.info("store recovered after %d retries", failures)
            return True, result
