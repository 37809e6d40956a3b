"""The wall's device charts: a week of one device's 10-second metric (60,480 readings) read as the
panel reads it, downsampled to 30-minute steps (7 days, 336 points) and to 5-minute steps (the
last 24 hours, 288 points), from the embedded store (SQLite) and from InfluxDB (1.x, InfluxQL).

Baseline in the same run, on the same store: the device's newest reading (`latest`, what the
panel's "latest readings" asks), so the figures read as "a chart costs N latest-reads" whatever
the machine. Among other devices' readings: `--devices` BTS sites report a day each beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ioc.domain import Aggregate, Reading
from ioc.store import InfluxStore, SqliteStore, TelemetryStore
from tests.support.influx import InfluxProcess

WEEK_S = 7 * 86_400
EVERY_S = 10
BATCH = 10_000


def _readings(end_ms: int, devices: int) -> list[Reading]:
    """bts-0 every 10 s for a week; the others every 10 s for the last day."""
    found = [
        Reading("bts", "bts-0", end_ms - s * 1000, {"battery_v": 48 + (s // EVERY_S) % 600 / 100})
        for s in range(0, WEEK_S, EVERY_S)
    ]
    for n in range(1, devices):
        found += [
            Reading("bts", f"bts-{n}", end_ms - s * 1000, {"battery_v": 50.0})
            for s in range(0, 86_400, EVERY_S)
        ]
    return found


def _timed(work: Callable[[], object], runs: int) -> float:
    """The median of `runs` timings of `work`, in milliseconds (one warm-up first)."""
    work()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _measure(name: str, store: TelemetryStore, end_ms: int, runs: int) -> None:
    def week() -> object:
        points = store.series("bts", "bts-0", "battery_v", end_ms - WEEK_S * 1000, end_ms,
                              1800, Aggregate.MEAN)  # fmt: skip
        assert 335 <= len(points) <= 337, len(points)
        return points

    def day() -> object:
        points = store.series("bts", "bts-0", "battery_v", end_ms - 86_400_000, end_ms, 300,
                              Aggregate.MEAN)  # fmt: skip
        assert 287 <= len(points) <= 289, len(points)
        return points

    baseline = _timed(lambda: store.latest("bts", ["bts-0"]), runs)
    week_ms, day_ms = _timed(week, runs), _timed(day, runs)
    print(f"{name:9} latest (baseline) {baseline:8.1f} ms")
    print(f"{name:9} 7 days, 336 pts   {week_ms:8.1f} ms  ({week_ms / baseline:6.1f}x baseline)")
    print(f"{name:9} 24 h, 288 pts     {day_ms:8.1f} ms  ({day_ms / baseline:6.1f}x baseline)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20, help="BTS sites in the store.")
    parser.add_argument("--runs", type=int, default=15, help="Timed queries of each kind.")
    args = parser.parse_args()
    end_ms = time.time_ns() // 1_000_000 // 1000 * 1000
    readings = _readings(end_ms, args.devices)
    print(f"{len(readings):,} readings: a week of bts-0 every {EVERY_S} s, "
          f"{args.devices - 1} more sites a day each", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ioc-series-") as folder:
        embedded = SqliteStore(Path(folder) / "telemetry.db")
        for start in range(0, len(readings), BATCH):
            embedded.write(readings[start : start + BATCH])
        _measure("embedded", embedded, end_ms, args.runs)
        embedded.close()
        influxd = InfluxProcess(Path(folder) / "influxd")
        influxd.start()
        try:
            influxd.query('CREATE DATABASE "series"')
            influx = InfluxStore(influxd.url, "series", "v1", lambda _device: None)
            for start in range(0, len(readings), BATCH):
                influx.write(readings[start : start + BATCH])
            _measure("influxdb", influx, end_ms, args.runs)
            influx.close()
        finally:
            influxd.stop()


if __name__ == "__main__":
    main()
