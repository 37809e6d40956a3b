"""End to end: simulated fleet -> Mosquitto -> ingest -> InfluxDB (v1 and v2), with garbage,
an ingest restart mid-stream, and an exact account of every message."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from firmware_sim import Fault, FaultKind, Simulator, SimulatorOptions, load_fleet
from firmware_sim.runner import GARBAGE_KINDS
from ioc.app import IngestService, Runtime, build_decoder, ingest_options, load_catalog
from ioc.broker import MosquittoProcess
from ioc.config import load_settings
from ioc.inventory import bundled_inventory_path, bundled_profiles_dir
from tests.conftest import V2_TOKEN
from tests.support.influx import InfluxProcess, V2Forwarder
from tests.support.mqtt import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_every_message_is_stored_once_or_rejected_with_its_reason(
    api: str,
    mosquitto: MosquittoProcess,
    influxd: InfluxProcess,
    v2_forwarder: V2Forwarder,
    influx_db: str,
    tmp_path: Path,
) -> None:
    if api == "v2":
        influxd.query(f'CREATE DATABASE "{influx_db}"')
        influx = {
            "influx_url": v2_forwarder.url,
            "influx_api": "v2",
            "influx_token": V2_TOKEN,
            "influx_org": "ioc",
        }
    else:
        influx = {"influx_url": influxd.url, "influx_api": "v1"}
    settings = load_settings(
        mqtt_url=mosquitto.url,
        data_dir=tmp_path,
        influx_db=influx_db,
        batch_interval_s=0.1,
        **influx,
    )
    catalog = load_catalog(settings)
    fleet = load_fleet(bundled_inventory_path(), bundled_profiles_dir(), limit=400)
    garbage_devices = [d.device_id for d in fleet[-3:]]
    faults = [Fault(FaultKind.GARBAGE, device, at_s=0, duration_s=0) for device in garbage_devices]
    simulator = Simulator(
        fleet, SimulatorOptions(port=mosquitto.port, speed=30, record_sent=True), faults
    )
    runtime = Runtime(settings, catalog)
    store = runtime.writable_telemetry()
    dead_letters = runtime.dead_letters()

    decoder, options = build_decoder(settings, catalog), ingest_options(settings)
    first = IngestService(decoder, store, dead_letters, options)
    second = IngestService(decoder, store, dead_letters, options)
    stop_sim = threading.Event()
    try:
        first.start()
        assert first.consumer.wait_connected(10)
        sim_thread = threading.Thread(target=simulator.run, kwargs={"should_stop": stop_sim.is_set})
        sim_thread.start()
        wait_until(lambda: first.stats.stored > 300, what="the first readings stored")
        first.stop()  # a clean restart mid-stream: the broker holds what arrives meanwhile
        sent_at_stop = simulator.counters.telemetry_sent
        wait_until(
            lambda: simulator.counters.telemetry_sent > sent_at_stop + 500,
            what="the fleet publishing while ingest is away",
        )
        second.start()
        wait_until(
            lambda: simulator.counters.telemetry_sent > 2500,
            timeout_s=60,
            what="2,500 messages published",
        )
        stop_sim.set()
        sim_thread.join()
        sent = Counter(device_id.split("-")[0] for device_id, _ in simulator.sent)
        wait_until(
            lambda: (
                second.stats.accepted + first.stats.accepted
                >= simulator.counters.telemetry_sent - sum(simulator.counters.garbage_sent.values())
            ),
            timeout_s=60,
            what="ingest catching up",
        )
        wait_until(lambda: second.pipeline.pending == 0, what="every batch stored")
        second.stop()

    finally:
        stop_sim.set()
        for service in (first, second):
            if service._flusher.is_alive():
                service.stop()

    classes = {"bts": "bts", "gw": "netgw", "vc": "vc"}
    stored: set[tuple[str, int]] = set()
    rows = 0
    for measurement in classes.values():
        for series in influx_rows(influxd, influx_db, measurement):
            for ts, device_id in series:
                stored.add((device_id, ts))
                rows += 1
    expected = set(simulator.sent)
    assert len(expected) == sum(sent.values())
    assert expected - stored == set(), "accepted messages missing from InfluxDB"
    assert rows == len(stored) == len(expected), "a message was stored twice or not sent"

    # Every bad message was rejected with its reason. QoS 1 is at-least-once, so a garbage
    # message (it has no seq to deduplicate on) may come twice across the restart: compare
    # distinct messages, and allow repeats only in the counters.
    wanted = Counter(
        {GARBAGE_KINDS[kind]: count for kind, count in simulator.counters.garbage_sent.items()}
    )
    assert sum(wanted.values()) >= 7
    letters = dead_letters.recent(10_000)
    distinct = Counter(
        reason for reason, _topic, _payload in {(d.reason, d.topic, d.payload) for d in letters}
    )
    assert distinct == wanted, sorted((d.reason, d.topic, d.payload[:40]) for d in letters)
    rejected = first.stats.rejected + second.stats.rejected
    assert all(rejected[reason] >= count for reason, count in wanted.items())
    assert sum(rejected.values()) == len(letters)
    assert first.stats.duplicates + second.stats.duplicates == 0
    runtime.close()


def influx_rows(influxd: InfluxProcess, db: str, measurement: str) -> list[list[tuple[int, str]]]:
    """(time, device_id) of every point of a measurement, in series."""
    result = influxd.query(f'SELECT * FROM "{measurement}" GROUP BY "device_id"', db)
    out = []
    for series in result:
        device_id = series["tags"]["device_id"]  # type: ignore[index]
        out.append([(row[0], device_id) for row in series["values"]])  # type: ignore[union-attr]
    return out
