"""CPU per message of ingest's own work, stage by stage, without a broker or a store.

  decode   wire protocol v1 -> a validated Reading (or a rejection)
  offer    the pipeline's side of the MQTT thread: decode, duplicates, live state, batching
  encode   and the line protocol of each batch of 5,000 (the writer's side, before HTTP)

The same 8-metric BTS messages as bench/ingest_throughput.py; CPU time of this process,
best of --rounds. A complement to the end-to-end bench: it isolates ingest's Python from the
broker, influxd and the scheduler, so a change to the hot path shows in it at once.

Usage: python bench/ingest_cpu.py [--messages 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loadgen import bts_messages  # noqa: E402

from ioc.app import load_catalog  # noqa: E402
from ioc.app._ingest import build_decoder  # noqa: E402
from ioc.config import load_settings  # noqa: E402
from ioc.domain import Rejection  # noqa: E402
from ioc.ingest import Decoder, IngestStats, LiveState, Pipeline  # noqa: E402
from ioc.store import LineEncoder  # noqa: E402


class Nothing:
    """A sink and a dead-letter log that keep nothing."""

    def write(self, items: object) -> None:
        pass

    def record(self, rejections: list[Rejection]) -> None:
        pass


def bench_pipeline(decoder: Decoder, messages: int, now_ms: int) -> Pipeline:
    """Ingest's pipeline with its default batch size, storing nothing, never full, on a clock
    that stands still (the benches' messages stay inside the allowed skew)."""
    return Pipeline(
        decoder, Nothing(), Nothing(), IngestStats(), LiveState(), batch_size=BATCH_SIZE,
        batch_interval_s=3600, max_pending=messages + 1, now_ms=lambda: now_ms,
    )  # fmt: skip


BATCH_SIZE = 5000  # ingest's default: the batches live as long as they do in ingest


def _cpu(work: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = load_settings()
    catalog = load_catalog(settings)
    now_ms = time.time_ns() // 1_000_000
    messages = bts_messages(args.messages, args.devices, now_ms - 300_000)
    decoder = build_decoder(settings, catalog)
    count = len(messages)

    def decode() -> None:
        for topic, payload in messages:
            decoder.decode(topic, payload, False, now_ms)

    # The consumer hands over what one 64 KiB read of the socket holds.
    per_read = 65536 // (len(messages[0][0]) + len(messages[0][1]) + 7)
    handed = [(topic, payload, False, index) for index, (topic, payload) in enumerate(messages)]
    reads = [handed[start : start + per_read] for start in range(0, count, per_read)]
    encoder = LineEncoder(lambda device_id: catalog.inventory.device_area_tags(device_id))

    def offer(encode: bool) -> int:
        pipeline = bench_pipeline(decoder, count, now_ms)
        accepted = 0
        for start in range(0, count, per_read):
            pipeline.offer_many(reads[start // per_read])
            if len(pipeline._batch.tokens) >= BATCH_SIZE:
                items = pipeline._take_batch().items  # what the writer takes
                accepted += len(items)
                if encode:
                    encoder.encode(items)
        return accepted

    accepted = offer(encode=False)
    assert accepted >= count - BATCH_SIZE - per_read, f"only {accepted} messages were accepted"

    print(f"bench: {count:,} 8-metric BTS messages, CPU per message (best of {args.rounds})")
    timings = {
        "decode": _cpu(decode, args.rounds),
        "offer": _cpu(lambda: offer(encode=False), args.rounds),
        "offer + encode": _cpu(lambda: offer(encode=True), args.rounds),
    }
    for stage, seconds in timings.items():
        print(f"  {stage:15} {seconds / count * 1e6:6.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
