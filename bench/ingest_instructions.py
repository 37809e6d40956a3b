"""Instructions per message of ingest's own work, counted by valgrind: the same count however
busy the machine is, so a change of a few percent shows.

The path is the MQTT thread's and the writer's: the bulk PUBLISH reader (ioc/ingest/_paho.py)
takes the packets of --messages 8-metric BTS messages in 64 KiB reads, and ingest's own
MqttConsumer (never connected) hands each read over; the pipeline decodes, drops duplicates
and batches; the line protocol of every batch of 5,000 is encoded. No broker, no store, no
HTTP.

callgrind runs this script twice: once doing all of that, once only building the packets (same
start-up, same setup); the difference over the number of messages is the cost of one message.
`--stage` stops the path early (after the reader, the decoder or the pipeline) to split it.

Usage: python bench/ingest_instructions.py [--messages 20000] [--devices 2000] [--stage all]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

_STAGES = ("reader", "decode", "pipeline", "all")


def run_path(messages: int, devices: int, stage: str | None) -> None:
    """Build the packets, then (unless stage is None) take them through the path."""
    import paho.mqtt.client as mqtt
    from ingest_cpu import BATCH_SIZE, bench_pipeline
    from loadgen import bts_messages

    from ioc.app import load_catalog
    from ioc.app._ingest import build_decoder, mqtt_options
    from ioc.config import load_settings
    from ioc.ingest import Message, MqttConsumer
    from ioc.store import LineEncoder
    from tests.support.packets import publish_packet

    settings = load_settings().model_copy(update={"mqtt_protocol": "5"})
    catalog = load_catalog(settings)
    now_ms = time.time_ns() // 1_000_000
    stream = b"".join(
        publish_packet(topic.encode(), payload, 1, index % 65535 + 1, False, b"")
        for index, (topic, payload) in enumerate(bts_messages(messages, devices, now_ms - 300_000))
    )
    reads = [stream[start : start + 65536] for start in range(0, len(stream), 65536)]
    decoder = build_decoder(settings, catalog)
    encoder = LineEncoder(catalog.inventory.device_area_tags)
    pipeline = bench_pipeline(decoder, messages, now_ms)
    in_flight: collections.deque[object] = collections.deque(maxlen=8)  # batches awaiting acks

    def decode_only(handed: list[Message]) -> None:
        for topic, payload, retained, _token in handed:
            decoder.decode(topic, payload, retained, now_ms)

    handlers = {"reader": lambda _handed: None, "decode": decode_only}
    # ingest's own consumer, never connected: its client is fed the reads by hand.
    options = mqtt_options(settings, "bench", ack_on_receipt=False, shared_group=None)
    consumer = MqttConsumer(options, handlers.get(stage or "", pipeline.offer_many))
    client = consumer._client
    assert client._protocol == mqtt.MQTTv5  # the packets carry MQTT 5 properties
    if stage is None:
        return
    for read in reads:
        client._read_buffer += read
        client._handle_buffered_packets()
        if len(pipeline._batch.tokens) >= BATCH_SIZE:
            batch = pipeline._take_batch()
            if stage == "all":
                encoder.encode(batch.items)
            in_flight.append(batch)
    assert stage != "all" or pipeline.stats.accepted == messages, pipeline.stats


def _instructions(arguments: list[str]) -> int:
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, *arguments],
        capture_output=True, text=True, check=True, env=os.environ | {"PYTHONHASHSEED": "0"},
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"bench: no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--stage", choices=_STAGES, default="all")
    parser.add_argument("--inside", choices=[*_STAGES, "setup"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside is not None:  # the run valgrind watches
        run_path(args.messages, args.devices, None if args.inside == "setup" else args.inside)
        return 0
    if shutil.which("valgrind") is None:
        print("bench: needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    common = ["--messages", str(args.messages), "--devices", str(args.devices)]
    print(f"bench: {args.messages:,} messages from {args.devices:,} devices under callgrind "
          f"(two runs of a few minutes)", flush=True)  # fmt: skip
    setup = _instructions([*common, "--inside", "setup"])
    path = _instructions([*common, "--inside", args.stage])
    print(f"  {args.stage}: {(path - setup) / args.messages:,.0f} instructions per message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
