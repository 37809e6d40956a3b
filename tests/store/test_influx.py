"""The InfluxDB store against a real influxd 1.6.7: v1 directly, v2 through the forwarder."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ioc.domain import DeviceEvent, MetricSummary, Reading, StatusChange
from ioc.store import (
    Aggregate,
    InfluxStore,
    StoreMisconfigured,
    StoreRejected,
    StoreUnavailable,
)
from tests.conftest import V2_TOKEN
from tests.support.influx import InfluxProcess, V2Forwarder

pytestmark = pytest.mark.integration

HOSTILE_TAGS = {
    "province": 'Quảng Trị, "QT"',
    "district": "a b=c,d\\e",
    "commune": "line\nbreak\ttab",
}
NOW_MS = (time.time_ns() // 1_000_000) // 60_000 * 60_000 - 3_600_000


def _tags(device_id: str) -> dict[str, str] | None:
    return HOSTILE_TAGS if device_id != "ghost" else None


@pytest.fixture(params=["v1", "v2", "v1 gzip", "v2 gzip"])
def store(
    request: pytest.FixtureRequest,
    influxd: InfluxProcess,
    v2_forwarder: V2Forwarder,
    influx_db: str,
) -> Iterator[InfluxStore]:
    """A store in each write mode on a fresh database; gzip ones write through the forwarder,
    which notes each write's encoding."""
    api, _, compress = request.param.partition(" ")
    influxd.query(f'CREATE DATABASE "{influx_db}"')
    if api == "v1" and not compress:
        store = InfluxStore(influxd.url, influx_db, "v1", _tags)
    else:
        store = InfluxStore(
            v2_forwarder.url, influx_db, api, _tags, token=V2_TOKEN, org="ioc",
            compress=bool(compress),
        )  # fmt: skip
    v2_forwarder.encodings.clear()
    yield store
    if compress:
        assert v2_forwarder.encodings and set(v2_forwarder.encodings) == {"gzip"}
    store.close()


def test_write_then_read_back_with_hostile_tags(
    store: InfluxStore, influxd: InfluxProcess, influx_db: str
) -> None:
    store.write(
        [
            Reading("bts", "bts-1", NOW_MS, {"battery_v": 53.5, "mains_ok": True}, seq=1),
            Reading("bts", "bts-1", NOW_MS + 60_000, {"battery_v": 49.0, "mains_ok": False}, seq=2),
            Reading("bts", "ghost", NOW_MS, {"temp_c": 30.0}, registered=False),
        ]
    )
    latest = {entry.device_id: entry for entry in store.latest("bts")}
    assert latest["bts-1"].ts_ms == NOW_MS + 60_000
    assert latest["bts-1"].metrics == {"battery_v": 49.0, "mains_ok": False}
    assert latest["ghost"].metrics == {"temp_c": 30.0}
    # Tag values survive the round trip exactly (bound parameters, not string building).
    rows = influxd.query(
        'SHOW TAG VALUES FROM "bts" WITH KEY IN ("province", "district", "commune")', influx_db
    )
    stored = {row[0]: row[1] for s in rows for row in s["values"]}  # type: ignore[union-attr]
    assert stored["province"] == HOSTILE_TAGS["province"]
    assert stored["district"] == HOSTILE_TAGS["district"]
    assert stored["commune"] == "line break tab"
    registered = influxd.query('SHOW TAG VALUES FROM "bts" WITH KEY = "registered"', influx_db)
    assert [row[1] for s in registered for row in s["values"]] == ["false"]  # type: ignore[union-attr]


def test_series_and_count(store: InfluxStore) -> None:
    store.write(
        [
            Reading("bts", "b", NOW_MS + offset * 1000, {"battery_v": value})
            for offset, value in [(0, 50.0), (30, 52.0), (60, 40.0), (90, 44.0)]
        ]
    )
    points = store.series("bts", "b", "battery_v", NOW_MS, NOW_MS + 120_000, 60, Aggregate.MEAN)
    assert [(p.ts_ms - NOW_MS, p.value) for p in points] == [(0, 51.0), (60_000, 42.0)]
    last = store.series("bts", "b", "battery_v", NOW_MS, NOW_MS + 120_000, 60, Aggregate.LAST)
    assert [p.value for p in last] == [52.0, 44.0]
    assert store.count("bts") == 4


def test_summaries_per_device_over_a_period(store: InfluxStore) -> None:
    store.write(
        [
            Reading("bts", device, NOW_MS + offset * 1000, {"battery_v": value, "mains_ok": True})
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
    found = store.summaries("bts", "battery_v", NOW_MS, NOW_MS + 120_000)
    assert found == {
        "a": MetricSummary(3, 48.0, 46.0, 50.0),  # the end is exclusive, the start not
        "b": MetricSummary(1, 53.0, 53.0, 53.0),
    }
    assert store.summaries("bts", "battery_v", NOW_MS - 60_000, NOW_MS - 30_000) == {}
    assert store.summaries("bts", 'battery_v") FROM "bts" --', NOW_MS, NOW_MS + 1) == {}


def test_query_parameters_are_not_injectable(store: InfluxStore) -> None:
    store.write([Reading("bts", "b", NOW_MS, {"battery_v": 50.0})])
    assert store.latest("bts", ['b" OR "device_id" =~ /.*/ --']) == []
    assert (
        store.series("bts", "x' OR 1=1", "battery_v", NOW_MS, NOW_MS + 1, 60, Aggregate.MEAN) == []
    )


def test_events_and_status_are_written(
    store: InfluxStore, influxd: InfluxProcess, influx_db: str
) -> None:
    store.write(
        [
            DeviceEvent("bts", "b", NOW_MS, "door_open", '{"who": "tech"}'),
            StatusChange("bts", "b", NOW_MS, online=False, retained=False),
        ]
    )
    events = influxd.query('SELECT "data", "type" FROM "event"', influx_db)
    assert events[0]["values"] == [[NOW_MS, '{"who": "tech"}', "door_open"]]  # type: ignore[index]
    status = influxd.query('SELECT "online" FROM "status"', influx_db)
    assert status[0]["values"] == [[NOW_MS, False]]  # type: ignore[index]


def test_type_conflict_is_rejected_not_retried(store: InfluxStore) -> None:
    store.write([Reading("bts", "b", NOW_MS, {"battery_v": 50.0})])
    with pytest.raises(StoreRejected):
        store.write([Reading("bts", "b", NOW_MS + 1000, {"battery_v": "fifty"})])


def test_v1_creates_a_missing_database(influxd: InfluxProcess, influx_db: str) -> None:
    store = InfluxStore(influxd.url, influx_db, "v1", _tags)
    store.write([Reading("bts", "b", NOW_MS, {"battery_v": 50.0})])
    assert store.count("bts") == 1


def test_v2_missing_bucket_needs_an_operator(v2_forwarder: V2Forwarder) -> None:
    store = InfluxStore(v2_forwarder.url, "no_such_bucket", "v2", _tags, token=V2_TOKEN, org="ioc")
    with pytest.raises(StoreMisconfigured, match="no such bucket"):
        store.write([Reading("bts", "b", NOW_MS, {"battery_v": 50.0})])


def test_v2_rejected_token_needs_an_operator(v2_forwarder: V2Forwarder, influx_db: str) -> None:
    store = InfluxStore(v2_forwarder.url, influx_db, "v2", _tags, token="wrong", org="ioc")
    with pytest.raises(StoreMisconfigured, match="IOC_INFLUX_TOKEN"):
        store.write([Reading("bts", "b", NOW_MS, {"battery_v": 50.0})])


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_unreachable_server_is_retryable(api: str) -> None:
    from ioc.broker import free_port

    store = InfluxStore(f"http://127.0.0.1:{free_port()}", "db", api, _tags, token="t", org="o")
    with pytest.raises(StoreUnavailable):
        store.write([Reading("bts", "b", NOW_MS, {"battery_v": 50.0})])
