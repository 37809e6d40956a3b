"""The pipeline's logic with in-memory sinks: batching, duplicates, ack-after-store, retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import orjson
import pytest

from ioc.domain import (
    Inventory,
    NeedsOperator,
    Refused,
    Rejection,
    RejectReason,
    RetryLater,
    TelemetryItem,
)
from ioc.ingest import Decoder, IngestStats, LiveState, Pipeline
from tests.ingest.conftest import NOW_MS
from tests.support.mqtt import wait_until


class MemorySink:
    """Keeps what it is given; can be told to fail the next N writes."""

    def __init__(self) -> None:
        self.items: list[TelemetryItem] = []
        self.failures: list[Exception] = []
        self.refuse_device: str | None = None

    def write(self, items: Sequence[TelemetryItem]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        if self.refuse_device and any(i.device_id == self.refuse_device for i in items):
            raise Refused("type conflict")
        self.items.extend(items)


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.rejections: list[Rejection] = []

    def record(self, rejections: Sequence[Rejection]) -> None:
        self.rejections.extend(rejections)


def _pipeline(
    decoder: Decoder,
    sink: MemorySink,
    dead: MemoryDeadLetters,
    batch_size: int = 100,
    max_pending: int = 1000,
) -> Pipeline:
    return Pipeline(
        decoder,
        sink,
        dead,
        IngestStats(),
        LiveState(),
        batch_size=batch_size,
        batch_interval_s=0.05,
        max_pending=max_pending,
        now_ms=lambda: NOW_MS,
    )


@contextmanager
def running_flusher(pipeline: Pipeline) -> Iterator[list[object]]:
    """Run the pipeline's flusher in a thread; yields the acknowledged tokens."""
    acked: list[object] = []
    stop = threading.Event()
    flusher = threading.Thread(target=pipeline.run_flusher, args=(acked.extend, stop))
    flusher.start()
    try:
        yield acked
    finally:
        stop.set()
        flusher.join()


def _message(device: str, seq: int, ts: int = NOW_MS, temp: float = 25.0) -> tuple[str, bytes]:
    return (
        f"ioc/bts/{device}/telemetry",
        orjson.dumps({"ts": ts, "seq": seq, "metrics": {"temp_c": temp}}),
    )


def test_acknowledges_only_after_the_batch_is_stored(decoder: Decoder) -> None:
    sink, dead = MemorySink(), MemoryDeadLetters()
    pipeline = _pipeline(decoder, sink, dead)
    acked: list[object] = []
    for seq in range(3):
        topic, payload = _message("bts-QT-00001", seq, NOW_MS + seq)
        pipeline.offer(topic, payload, False, seq)
    pipeline.offer("ioc/bts/bts-QT-00001/telemetry", b"garbage", False, 99)
    assert acked == [] and sink.items == []
    pipeline.flush(acked.extend)
    assert acked == [0, 1, 2, 99]
    assert len(sink.items) == 3
    assert [r.reason for r in dead.rejections] == [RejectReason.BAD_JSON]
    assert pipeline.stats.stored == 3 and pipeline.stats.rejected == {"bad_json": 1}


def test_redelivered_duplicates_are_stored_once_but_acknowledged(decoder: Decoder) -> None:
    sink, dead = MemorySink(), MemoryDeadLetters()
    pipeline = _pipeline(decoder, sink, dead)
    acked: list[object] = []
    topic, payload = _message("bts-QT-00001", 7)
    pipeline.offer(topic, payload, False, 1)
    pipeline.offer(topic, payload, False, 2)
    # Same seq after a reboot but a new time is new data.
    pipeline.offer(*_message("bts-QT-00001", 7, NOW_MS + 5000), False, 3)
    pipeline.flush(acked.extend)
    assert acked == [1, 2, 3]
    assert len(sink.items) == 2 and pipeline.stats.duplicates == 1


def test_store_away_is_retried_and_nothing_acknowledged_until_stored(decoder: Decoder) -> None:
    sink, dead = MemorySink(), MemoryDeadLetters()
    sink.failures = [RetryLater("down"), RetryLater("still down")]
    pipeline = _pipeline(decoder, sink, dead, batch_size=1)
    with running_flusher(pipeline) as acked:
        pipeline.offer(*_message("bts-QT-00001", 1), False, "m1")
        wait_until(lambda: acked == ["m1"], timeout_s=10, what="acknowledged once stored")
    assert pipeline.stats.store_retries == 2 and len(sink.items) == 1


def test_a_refused_item_is_isolated_and_the_rest_stored(decoder: Decoder) -> None:
    sink, dead = MemorySink(), MemoryDeadLetters()
    sink.refuse_device = "bts-QT-00002"
    pipeline = _pipeline(decoder, sink, dead)
    acked: list[object] = []
    for index in range(1, 9):
        pipeline.offer(*_message(f"bts-QT-0000{index}", 1), False, index)
    pipeline.flush(acked.extend)
    assert acked == list(range(1, 9))
    assert sorted(i.device_id for i in sink.items) == [
        f"bts-QT-0000{i}" for i in range(1, 9) if i != 2
    ]
    assert [(r.reason, r.topic) for r in dead.rejections] == [
        (RejectReason.STORE_REJECTED, "ioc/bts/bts-QT-00002/telemetry")
    ]


def test_misconfigured_store_stops_the_flusher_without_acknowledging(decoder: Decoder) -> None:
    sink, dead = MemorySink(), MemoryDeadLetters()
    sink.failures = [NeedsOperator("bucket not found")]
    pipeline = _pipeline(decoder, sink, dead, batch_size=1)
    acked: list[object] = []
    pipeline.offer(*_message("bts-QT-00001", 1), False, "m1")
    with pytest.raises(NeedsOperator):
        pipeline.run_flusher(acked.extend, threading.Event())
    assert acked == []


def test_backpressure_blocks_the_producer_at_the_bound(decoder: Decoder) -> None:
    sink, dead = MemorySink(), MemoryDeadLetters()
    pipeline = _pipeline(decoder, sink, dead, batch_size=1000, max_pending=5)
    for seq in range(5):
        pipeline.offer(*_message("bts-QT-00001", seq, NOW_MS + seq), False, seq)
    blocked = threading.Thread(
        target=pipeline.offer, args=(*_message("bts-QT-00001", 5, NOW_MS + 5), False, 5)
    )
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive(), "the sixth message should wait for the store"
    acked: list[object] = []
    pipeline.flush(acked.extend)
    blocked.join(5)
    assert not blocked.is_alive()
    pipeline.flush(acked.extend)
    assert acked == [0, 1, 2, 3, 4, 5] and pipeline.stats.backpressure_waits == 1


def test_a_read_is_taken_whole_once_it_fits_under_the_bound(decoder: Decoder) -> None:
    """The consumer hands over a socket read at once: it waits until all of it fits, and one
    larger than the bound itself is taken once nothing else waits (never a deadlock)."""
    pipeline = _pipeline(decoder, MemorySink(), MemoryDeadLetters(), batch_size=1000, max_pending=5)

    def read(seqs: range) -> list[tuple[str, bytes, bool, int]]:
        return [(*_message("bts-QT-00001", seq, NOW_MS + seq), False, seq) for seq in seqs]

    acked: list[object] = []
    pipeline.offer_many(read(range(3)))
    for waiting in (read(range(3, 6)), read(range(6, 14))):  # 3 + 3 > 5; then 8 > 5 alone
        blocked = threading.Thread(target=pipeline.offer_many, args=(waiting,))
        blocked.start()
        blocked.join(0.3)
        assert blocked.is_alive(), "the read should wait for the store"
        pipeline.flush(acked.extend)
        blocked.join(5)
        assert not blocked.is_alive()
    pipeline.flush(acked.extend)
    assert acked == list(range(14)) and pipeline.pending == 0
    assert pipeline.stats.backpressure_waits == 2


def test_live_state_follows_each_devices_last_word(decoder: Decoder) -> None:
    pipeline = _pipeline(decoder, MemorySink(), MemoryDeadLetters())
    assert pipeline.live.online("bts-QT-00001") is None
    pipeline.offer(*_message("bts-QT-00001", 1, NOW_MS, 25.0), False, 1)
    pipeline.offer(*_message("bts-QT-00002", 1, NOW_MS, 25.0), False, 2)
    assert pipeline.live.online("bts-QT-00001") is True and pipeline.live.online_count() == 2
    pipeline.offer("ioc/bts/bts-QT-00001/status", b"offline", False, 3)
    assert pipeline.live.online("bts-QT-00001") is False and pipeline.live.online_count() == 1
    pipeline.offer(*_message("bts-QT-00001", 2, NOW_MS, 25.0), False, 4)  # up again
    assert pipeline.live.online("bts-QT-00001") is True and len(pipeline.live) == 2


def test_retained_status_updates_state_but_is_not_stored(decoder: Decoder) -> None:
    sink = MemorySink()
    pipeline = _pipeline(decoder, sink, MemoryDeadLetters())
    pipeline.offer("ioc/bts/bts-QT-00001/status", b"online", True, 1)
    pipeline.offer("ioc/bts/bts-QT-00002/status", b"offline", False, 2)
    pipeline.flush(lambda _tokens: None)
    assert [i.device_id for i in sink.items] == ["bts-QT-00002"]
    assert pipeline.live.online("bts-QT-00001") is True


def test_a_decoder_bug_becomes_a_rejection_not_a_poison_message() -> None:
    class Broken(Decoder):
        def decode(self, *_args: object, **_kwargs: object):  # type: ignore[override]
            raise KeyError("boom")

    dead = MemoryDeadLetters()
    broken = Broken("ioc", {}, Inventory.build([], []), True, 1, 1)
    pipeline = Pipeline(broken, MemorySink(), dead, IngestStats(), LiveState(), 10, 0.05, 10)
    acked: list[object] = []
    pipeline.offer("ioc/bts/x/telemetry", b"{}", False, 1)
    pipeline.flush(acked.extend)
    assert acked == [1] and dead.rejections[0].reason is RejectReason.INTERNAL_ERROR


def test_a_stored_batch_is_acknowledged_without_waiting_for_more_traffic(
    decoder: Decoder,
) -> None:
    sink, dead = MemorySink(), MemoryDeadLetters()
    pipeline = _pipeline(decoder, sink, dead, batch_size=1000)
    with running_flusher(pipeline) as acked:
        pipeline.offer(*_message("bts-QT-00001", 1), False, "only")
        wait_until(lambda: acked == ["only"], timeout_s=5, what="the lone message acknowledged")


def test_batches_written_in_parallel_are_acknowledged_in_arrival_order(decoder: Decoder) -> None:
    class SlowFirstSink(MemorySink):
        def write(self, items: Sequence[TelemetryItem]) -> None:
            if any(i.device_id == "bts-QT-00001" for i in items):
                threading.Event().wait(0.3)  # the first batch is the slow one
            super().write(items)

    pipeline = _pipeline(decoder, SlowFirstSink(), MemoryDeadLetters(), batch_size=1)
    with running_flusher(pipeline) as acked:
        pipeline.offer(*_message("bts-QT-00001", 1), False, "first")
        pipeline.offer(*_message("bts-QT-00002", 1), False, "second")
        wait_until(lambda: len(acked) == 2, timeout_s=5, what="both acknowledged")
        assert acked == ["first", "second"]


def test_a_redelivered_partly_bad_message_is_dead_lettered_once(decoder: Decoder) -> None:
    sink, dead = MemorySink(), MemoryDeadLetters()
    pipeline = _pipeline(decoder, sink, dead)
    payload = orjson.dumps({"ts": NOW_MS, "seq": 3, "metrics": {"temp_c": 25, "battery_v": 900}})
    pipeline.offer("ioc/bts/bts-QT-00001/telemetry", payload, False, 1)
    pipeline.offer("ioc/bts/bts-QT-00001/telemetry", payload, False, 2)
    pipeline.flush(lambda _tokens: None)
    assert len(sink.items) == 1 and sink.items[0].metrics == {"temp_c": 25.0}  # type: ignore[union-attr]
    assert [r.reason for r in dead.rejections] == [RejectReason.OUT_OF_RANGE]
    assert pipeline.stats.rejected == {"out_of_range": 1} and pipeline.stats.duplicates == 1
