"""Modbus polls per second per port, against the line's theoretical limit for the same requests.

The line is the simulator's pty, which takes the time each frame's bytes need at the baud rate
(start, 8 data and stop bits per character, 3.5 characters of silence after each frame). For
each rate the gateway's poller (pymodbus, decoding, the disk buffer) polls four controllers as
fast as the line lets it. Two references, both for the same reads:

- the limit: the line time of the requests and replies, computed;
- the baseline: a bare pymodbus loop issuing the same reads on the same simulated line, measured
  in this run (what the line and the client allow without the gateway's work).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymodbus.client import ModbusSerialClient

from firmware_sim.modbus import LineSettings, PtyLine, RtuSlave, SiteController
from ioc.edge import DiskBuffer
from ioc.gateway import (
    ControllerConfig,
    Function,
    PortConfig,
    PortPoller,
    RegisterMap,
    bundled_maps_dir,
    load_register_map,
)
from ioc.inventory import bundled_profiles_dir, load_profiles

UNITS = (1, 2, 3, 4)


def line_limit(register_map: RegisterMap, settings: LineSettings) -> float:
    """Polls per second the line could carry: every request and reply, and their gaps."""
    seconds = 0.0
    for block in register_map.blocks:
        data = math.ceil(block.count / 8) if block.function.is_bits else 2 * block.count
        reply = 5 + data  # unit, function, byte count, data, CRC
        seconds += (8 + reply) * settings.char_s + 2 * settings.gap_s
    return 1.0 / seconds


class BufferSink:
    """The gateway's own path for a reading, without the broker: JSON into the disk buffer."""

    def __init__(self, buffer: DiskBuffer) -> None:
        self.buffer = buffer
        self.readings = 0

    def reading(self, controller: ControllerConfig, ts_ms: int, metrics: dict[str, object]) -> None:
        self.readings += 1
        payload = orjson.dumps({"ts": ts_ms, "seq": self.readings, "metrics": metrics})
        self.buffer.append(f"ioc/bts/{controller.device_id}/telemetry", payload)

    def status(self, controller: ControllerConfig, online: bool) -> None:
        pass


def gateway_rate(register_map: RegisterMap, baud: int, seconds: float, tmp: Path) -> float:
    line = PtyLine()
    slave = RtuSlave(
        line, [SiteController(u, random.Random(u)) for u in UNITS], LineSettings(baudrate=baud)
    )
    slave.start()
    controllers = tuple(
        ControllerConfig(unit, f"bts-bench-{unit}", register_map, 0.001, 3) for unit in UNITS
    )
    port = PortConfig(line.gateway_path, baud, 8, "N", 1, 0.5, 0, 60.0, controllers)
    sink = BufferSink(DiskBuffer(tmp / f"buffer-{baud}.db", 10_000_000))
    poller = PortPoller(port, sink)
    poller.start()
    time.sleep(0.5)  # let the schedule settle
    start_polls, start = poller.counters["polls_ok"], time.perf_counter()
    time.sleep(seconds)
    polls = poller.counters["polls_ok"] - start_polls
    elapsed = time.perf_counter() - start
    poller.stop()
    slave.stop()
    line.close()
    failed = poller.counters["polls_failed"]
    if failed:
        print(f"  warning: {failed} polls failed at {baud} baud")
    return polls / elapsed


def bare_client_rate(register_map: RegisterMap, baud: int, seconds: float) -> float:
    line = PtyLine()
    slave = RtuSlave(
        line, [SiteController(u, random.Random(u)) for u in UNITS], LineSettings(baudrate=baud)
    )
    slave.start()
    client = ModbusSerialClient(line.gateway_path, baudrate=baud, timeout=0.5, retries=0)
    client.connect()
    reads = {
        Function.HOLDING: client.read_holding_registers,
        Function.INPUT: client.read_input_registers,
        Function.COIL: client.read_coils,
        Function.DISCRETE_INPUT: client.read_discrete_inputs,
    }
    polls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        unit = UNITS[polls % len(UNITS)]
        for block in register_map.blocks:
            reads[block.function](block.address, count=block.count, device_id=unit)
        polls += 1
    elapsed = time.perf_counter() - start
    client.close()
    slave.stop()
    line.close()
    return polls / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring time per rate")
    args = parser.parse_args()
    register_map = load_register_map(
        bundled_maps_dir() / "site-controller-48v.yaml", load_profiles(bundled_profiles_dir())
    )
    print(
        f"modbus polls: map {register_map.name}, {len(register_map.fields)} values in "
        f"{len(register_map.blocks)} reads, {len(UNITS)} controllers on one port"
    )
    print(
        f"{'baud':>7} {'limit/s':>8} {'bare/s':>8} {'gateway/s':>10} "
        f"{'gw/limit':>9} {'gw/bare':>8} {'bare/limit':>11}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for baud in (9600, 115_200):
            limit = line_limit(register_map, LineSettings(baudrate=baud))
            bare = bare_client_rate(register_map, baud, args.seconds)
            gateway = gateway_rate(register_map, baud, args.seconds, Path(tmp))
            print(
                f"{baud:>7} {limit:>8.1f} {bare:>8.1f} {gateway:>10.1f} "
                f"{gateway / limit:>9.2f} {gateway / bare:>8.2f} {bare / limit:>11.2f}"
            )


if __name__ == "__main__":
    main()
