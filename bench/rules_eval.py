"""Rule evaluation cost per message and memory per device, for the default rules at scale.

Baselines measured in the same run: ingest's own decoding of the same messages (cost per
message) and ingest's live device state (memory per device). The engine is driven directly,
without a broker, so the figures are the engine's alone.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ioc.domain import DEFAULT_ZONE, Reading, zone_named
from ioc.ingest import Decoder, LiveState
from ioc.inventory import (
    FleetShape,
    bundled_profiles_dir,
    generate_inventory,
    load_inventory,
    load_profiles,
    write_inventory,
)
from ioc.rules import RuleEngine, bundled_rules_dir, load_rules

NORMAL: dict[str, dict[str, object]] = {
    "bts": {
        "mains_ok": True,
        "mains_v": 228.4,
        "rectifier_ok": True,
        "battery_v": 53.9,
        "battery_a": 1.5,
        "battery_soc_pct": 100.0,
        "load_a": 31.2,
        "temp_c": 25.5,
        "humidity_pct": 71.0,
        "aircon_ok": True,
        "door_open": False,
        "smoke": False,
        "genset_on": False,
        "fuel_pct": 80.0,
    },
    "netgw": {
        "wan_up": True,
        "rtt_ms": 24.0,
        "loss_pct": 0.1,
        "rx_bps": 2.0e7,
        "tx_bps": 5.0e6,
        "cpu_pct": 18.0,
        "uptime_s": 86400.0,
    },
    "vc": {
        "registered": True,
        "in_call": False,
        "jitter_ms": 3.0,
        "loss_pct": 0.0,
        "bitrate_kbps": 0.0,
        "mos": 4.3,
    },
}


def payloads(
    devices: list[tuple[str, str]], rounds: int, start_ms: int, rng: random.Random
) -> list[tuple[str, bytes]]:
    """Every device reports `rounds` times (one second apart), values wobbling; 1 % faulty."""
    messages = []
    for round_index in range(rounds):
        for device_id, device_class in devices:
            metrics = dict(NORMAL[device_class])
            if device_class == "bts":
                metrics["temp_c"] = round(25.0 + rng.random() * 2, 1)
                if rng.random() < 0.01:
                    metrics["battery_v"] = 46.0  # raises bts.battery_low
            elif device_class == "netgw":
                metrics["rtt_ms"] = round(20.0 + rng.random() * 8, 1)
                metrics["uptime_s"] = 86400.0 + round_index
            body = {"ts": start_ms + round_index * 1000, "seq": round_index, "metrics": metrics}
            messages.append((f"ioc/{device_class}/{device_id}/telemetry", orjson.dumps(body)))
    return messages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="reports per device")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ioc-bench-rules-"))
    profiles = load_profiles(bundled_profiles_dir())
    inventory_path = workdir / "inventory.json"
    write_inventory(
        generate_inventory(FleetShape.for_device_count(args.devices), 7), inventory_path
    )
    inventory = load_inventory(inventory_path, profiles, zone_named(DEFAULT_ZONE))
    rules = load_rules([bundled_rules_dir()], profiles, inventory)
    devices = [(d.id, d.device_class) for d in inventory.devices.values()]
    start_ms = time.time_ns() // 1_000_000
    messages = payloads(devices, args.rounds, start_ms, random.Random(7))
    print(
        f"bench: {len(rules)} default rules, {len(devices):,} devices, {len(messages):,} "
        f"messages ({args.rounds} per device), {os.cpu_count()} cores shared",
        flush=True,
    )

    decoder = Decoder("ioc", profiles, inventory, True, 600_000, 65536)
    started = time.perf_counter()
    decoded = [decoder.decode(topic, payload, False, start_ms).item for topic, payload in messages]
    decode_s = time.perf_counter() - started
    readings = [item for item in decoded if isinstance(item, Reading)]
    assert len(readings) == len(messages), "every bench message must decode"

    gc.collect()
    tracemalloc.start()
    live = LiveState()
    base = tracemalloc.get_traced_memory()[0]
    for reading in readings:
        live.apply(reading)
    live_bytes = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    engine = RuleEngine(rules, inventory, profiles, start_ms)
    built_bytes = tracemalloc.get_traced_memory()[0] - base
    signals = 0
    for reading in readings:
        signals += len(engine.apply(reading, reading.ts_ms))
    engine_bytes = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()

    engine = RuleEngine(rules, inventory, profiles, start_ms)
    gc.collect()
    started = time.perf_counter()
    for reading in readings:
        engine.apply(reading, reading.ts_ms)
    eval_s = time.perf_counter() - started

    started = time.perf_counter()
    snapshot = engine.take_all()
    snapshot_s = time.perf_counter() - started
    snapshot_bytes = sum(len(orjson.dumps(held.data)) for held in snapshot)

    sweep_at = start_ms + 3_600_000  # everyone silent for an hour: the sweep's worst case
    started = time.perf_counter()
    swept = engine.tick(sweep_at)
    sweep_s = time.perf_counter() - started
    started = time.perf_counter()
    engine.tick(sweep_at + 1000)  # the steady case: nothing new is due
    idle_s = time.perf_counter() - started

    count = len(readings)
    decode_us, eval_us = decode_s / count * 1e6, eval_s / count * 1e6
    print(f"  ingest decoding (baseline):  {decode_us:7.2f} us/message", flush=True)
    print(
        f"  rule evaluation:             {eval_us:7.2f} us/message "
        f"({signals:,} signals) = {eval_us / decode_us:.2f}x decoding; "
        f"{1e6 / eval_us:,.0f} messages/s on one core"
    )
    print(
        f"  silence sweep over {len(devices):,} devices: {sweep_s * 1000:.0f} ms when all "
        f"are due ({len(swept):,} raised), {idle_s * 1000:.2f} ms when none is"
    )
    print(
        f"  full state snapshot (clean stop): {len(snapshot):,} rows, "
        f"{snapshot_bytes / 1e6:.1f} MB of JSON, {snapshot_s * 1000:.0f} ms to take"
    )
    per_device = engine_bytes / len(devices)
    print(f"  ingest live state (baseline): {live_bytes / len(devices):7.0f} bytes/device")
    print(
        f"  rule engine:                  {per_device:7.0f} bytes/device "
        f"({built_bytes / len(devices):.0f} of it the rule tables) = "
        f"{per_device / (live_bytes / len(devices)):.2f}x live state"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
