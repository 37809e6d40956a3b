"""The embedded SQLite telemetry store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ioc.domain import DeviceEvent, MetricSummary, Reading, StatusChange
from ioc.store import Aggregate, SqliteStore

T0 = 1_700_000_000_000


def _store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "t.db")


def test_latest_returns_newest_reading_per_device(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.write(
        [
            Reading("bts", "a", T0, {"battery_v": 53.0, "mains_ok": True}),
            Reading("bts", "a", T0 + 60_000, {"battery_v": 50.5, "mains_ok": False, "site": "x"}),
            Reading("bts", "b", T0, {"battery_v": 54.0}),
            Reading("netgw", "g", T0, {"rtt_ms": 20.0}),
        ]
    )
    latest = {entry.device_id: entry for entry in store.latest("bts")}
    assert latest["a"].ts_ms == T0 + 60_000
    assert latest["a"].metrics == {"battery_v": 50.5, "mains_ok": False, "site": "x"}
    assert latest["b"].metrics == {"battery_v": 54.0}
    assert [e.device_id for e in store.latest("bts", ["b"])] == ["b"]


def test_same_device_and_time_overwrites_like_influxdb(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.write([Reading("bts", "a", T0, {"battery_v": 53.0})])
    store.write([Reading("bts", "a", T0, {"battery_v": 52.0})])
    assert store.count("bts") == 1
    assert store.latest("bts")[0].metrics == {"battery_v": 52.0}


def test_series_downsamples_into_epoch_aligned_steps(tmp_path: Path) -> None:
    store = _store(tmp_path)
    base = T0 - T0 % 60_000
    store.write(
        [
            Reading("bts", "a", base + offset * 1000, {"battery_v": value})
            for offset, value in [(0, 50.0), (30, 52.0), (60, 40.0), (90, 44.0), (150, 47.0)]
        ]
    )
    args = ("bts", "a", "battery_v", base, base + 180_000, 60)
    assert [(p.ts_ms - base, p.value) for p in store.series(*args, Aggregate.MEAN)] == [
        (0, 51.0),
        (60_000, 42.0),
        (120_000, 47.0),
    ]
    assert [p.value for p in store.series(*args, Aggregate.MIN)] == [50.0, 40.0, 47.0]
    assert [p.value for p in store.series(*args, Aggregate.MAX)] == [52.0, 44.0, 47.0]
    assert [p.value for p in store.series(*args, Aggregate.LAST)] == [52.0, 44.0, 47.0]
    # The end of the range is exclusive.
    assert (
        store.series("bts", "a", "battery_v", base, base + 60_000, 60, Aggregate.MEAN)[-1].ts_ms
        == base
    )


def test_summaries_per_device_over_a_period(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.write(
        [
            Reading("bts", device, T0 + offset * 1000, {"battery_v": value, "mains_ok": True})
            for device, offset, value in [
                ("a", -1, 10.0),
                ("a", 0, 50.0),
                ("a", 30, 46.0),
                ("a", 60, 48.0),
                ("b", 10, 53.0),
                ("b", 120, 1.0),
            ]
        ]
    )
    assert store.summaries("bts", "battery_v", T0, T0 + 120_000) == {
        "a": MetricSummary(3, 48.0, 46.0, 50.0),  # the end is exclusive, the start not
        "b": MetricSummary(1, 53.0, 53.0, 53.0),
    }
    assert store.summaries("bts", "mains_ok", T0, T0 + 120_000) == {}  # not a number
    assert store.summaries("netgw", "battery_v", T0, T0 + 120_000) == {}


def test_events_and_status_are_stored(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.write(
        [
            DeviceEvent("bts", "a", T0, "door_open", "{}"),
            StatusChange("bts", "a", T0, online=False, retained=False),
        ]
    )
    store.close()
    with sqlite3.connect(tmp_path / "t.db") as db:
        assert db.execute("SELECT type FROM event").fetchall() == [("door_open",)]
        assert db.execute("SELECT online FROM status").fetchall() == [(0,)]
        assert db.execute("SELECT COUNT(*) FROM reading").fetchone() == (0,)
