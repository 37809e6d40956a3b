"""End to end: simulated site controllers on a pty -> `ioc gateway modbus` -> Mosquitto ->
ingest -> InfluxDB, through a broker outage; and the command as a user runs it, with its last
will when it dies."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from firmware_sim.modbus import PtyLine, RtuSlave
from ioc.app import (
    IngestService,
    Runtime,
    Supervisor,
    build_decoder,
    gateway_options,
    gateway_services,
    ingest_options,
    load_catalog,
    load_gateway,
)
from ioc.broker import MosquittoProcess
from ioc.config import load_settings
from ioc.domain import Inventory
from ioc.gateway import ModbusGateway
from tests.support.influx import InfluxProcess
from tests.support.modbus import bts_sites, gateway_file, pty_controllers
from tests.support.mqtt import StatusWatch, TopicFeed, wait_until
from tests.support.processes import IocProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
def controllers() -> Iterator[tuple[PtyLine, RtuSlave]]:
    with pty_controllers() as pair:
        yield pair


def points(influxd: InfluxProcess, db: str, measurement: str, device: str) -> list[list[object]]:
    result = influxd.query(
        f'SELECT * FROM "{measurement}" WHERE "device_id" = \'{device}\' ORDER BY time', db
    )
    if not result:
        return []
    columns = result[0]["columns"]
    return [dict(zip(columns, row, strict=True)) for row in result[0]["values"]]  # type: ignore[arg-type, call-overload]


def test_readings_reach_influxdb_once_each_across_a_broker_outage(
    controllers: tuple[PtyLine, RtuSlave],
    mosquitto: MosquittoProcess,
    influxd: InfluxProcess,
    influx_db: str,
    inventory: Inventory,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    line, _slave = controllers
    site_a, site_b = bts_sites(inventory)
    settings = load_settings(
        mqtt_url=mosquitto.url,
        data_dir=tmp_path,
        influx_url=influxd.url,
        influx_api="v1",
        influx_db=influx_db,
        batch_interval_s=0.1,
    )
    catalog = load_catalog(settings)
    config, _ = load_gateway(catalog, gateway_file(tmp_path, line, site_a, site_b, "sgw-e2e-1"))
    runtime = Runtime(settings, catalog)
    store = runtime.writable_telemetry()
    dead_letters = runtime.dead_letters()
    ingest = IngestService(
        build_decoder(settings, catalog), store, dead_letters, ingest_options(settings)
    )
    ingesting = Supervisor([ingest])
    ingesting.start()
    request.addfinalizer(ingesting.stop)  # also when the test fails: no thread left behind
    assert ingest.consumer.wait_connected(10)
    gateway = ModbusGateway(config, gateway_options(settings, config))
    supervisor = Supervisor(gateway_services(gateway))
    supervisor.start()
    feed: TopicFeed | None = None
    try:
        wait_until(lambda: len(points(influxd, influx_db, "bts", site_a)) >= 5, 30, "first rows")

        mosquitto.stop()  # SIGTERM: the broker keeps ingest's session for its return
        outage_from = time.time_ns() // 1_000_000
        wait_until(lambda: not gateway.uplink.connected, 10, "the gateway noticing")
        wait_until(lambda: len(gateway.buffer) >= 20, 30, "readings buffered on disk")
        outage_to = time.time_ns() // 1_000_000
        mosquitto.start()
        feed = TopicFeed(mosquitto.port, f"ioc/bts/{site_a}/telemetry", "e2e-order-watch")
        wait_until(lambda: len(gateway.buffer) == 0, 60, "the buffer drained after the outage")
        wait_until(lambda: len(feed.events) >= 10, 30, "readings seen after the outage")
    finally:
        supervisor.stop()
        if feed is not None:
            feed.stop()

    queued = {d: gateway.outbox.sequence(d) for d in (site_a, site_b, "sgw-e2e-1")}

    def stored_all() -> bool:
        return all(
            len(points(influxd, influx_db, measurement, device)) == queued[device]
            for measurement, device in (("bts", site_a), ("bts", site_b), ("serialgw", "sgw-e2e-1"))
        )

    wait_until(stored_all, 30, "every reading the gateway took stored exactly once")
    ingesting.stop()
    assert dead_letters.recent(100) == []  # every message the gateway wrote is valid wire v1

    rows_a = points(influxd, influx_db, "bts", site_a)
    taken_offline = [r for r in rows_a if outage_from <= int(str(r["time"])) <= outage_to]
    assert len(taken_offline) >= 5, "readings taken during the outage keep their own time"
    # After the outage the buffered readings arrive oldest first.
    seqs = [int(str(event["seq"])) for event in feed.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert any(int(str(event["ts"])) <= outage_to for event in feed.events)

    # Unit 2 has no mains: its battery carries the load and its voltage falls.
    rows_b = points(influxd, influx_db, "bts", site_b)
    assert all(r["mains_ok"] is False for r in rows_b)
    assert all(float(str(r["battery_a"])) < 0 for r in rows_b if r["genset_on"] is False)
    assert float(str(rows_b[-1]["battery_v"])) < float(str(rows_b[0]["battery_v"]))
    # The same counters for Prometheus, per port.
    metrics = generate_latest(gateway.registry).decode()
    polled = re.search(
        rf'ioc_gateway_polls_ok_total{{port="{re.escape(line.gateway_path)}"}} (\d+)', metrics
    )
    assert polled and int(polled.group(1)) >= queued[site_a] + queued[site_b] - 2, metrics
    assert "ioc_gateway_dropped_total 0.0" in metrics
    health = points(influxd, influx_db, "serialgw", "sgw-e2e-1")
    assert max(float(str(r["controllers_online"])) for r in health) == 2
    assert rows_a[0]["province"] is not None  # inventory devices carry their area tags
    runtime.close()


def test_the_command_speaks_for_its_controllers_and_its_last_will_for_itself(
    controllers: tuple[PtyLine, RtuSlave],
    mosquitto: MosquittoProcess,
    inventory: Inventory,
    tmp_path: Path,
) -> None:
    line, _slave = controllers
    site_a, site_b = bts_sites(inventory)
    path = gateway_file(tmp_path, line, site_a, site_b, "sgw-cli-1")
    env = {"IOC_MQTT_URL": mosquitto.url, "IOC_DATA_DIR": str(tmp_path)}
    checked = subprocess.run(
        [sys.executable, "-m", "ioc", "gateway", "modbus", str(path), "--check"],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert f"unit 2 -> bts/{site_b} every 0.2s, map site-controller-48v" in checked.stderr
    assert "warning: sgw-cli-1 is not in the inventory" in checked.stderr

    watch = StatusWatch(mosquitto.port)
    gateway_status = "ioc/serialgw/sgw-cli-1/status"
    controller_status = [f"ioc/bts/{site}/status" for site in (site_a, site_b)]
    try:
        clean = IocProcess(["gateway", "modbus", str(path)], env, tmp_path / "clean.log")
        wait_until(
            lambda: all(
                watch.status.get(t) == "online" for t in [gateway_status, *controller_status]
            ),
            20,
            "gateway and controllers online",
        )
        wait_until(
            lambda: "gateway: 2/2 controllers online" in (tmp_path / "clean.log").read_text(),
            10,
            "a status line with both controllers",
        )
        assert clean.stop() == 0
        wait_until(
            lambda: all(
                watch.status.get(t) == "offline" for t in [gateway_status, *controller_status]
            ),
            10,
            "a clean stop says offline for everyone",
        )

        crashing = IocProcess(["gateway", "modbus", str(path)], env, tmp_path / "crash.log")
        wait_until(lambda: watch.status.get(gateway_status) == "online", 20, "online again")
        crashing.kill()
        wait_until(
            lambda: watch.status.get(gateway_status) == "offline",
            60,  # at once if the kernel closes the socket; else after 1.5 keepalives (45 s)
            "the last will",
        )
    finally:
        watch.stop()


def test_a_wrong_gateway_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("gateway_id: x\nports: []\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "ioc", "gateway", "modbus", str(path)],
        env={"PATH": "/usr/bin:/bin", "IOC_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"{path}: ports: List should have at least 1 item" in result.stderr
