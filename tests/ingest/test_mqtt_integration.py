"""Ingest against a real Mosquitto: persistent sessions, store-then-ack, restarts, sharing."""

from __future__ import annotations

import gc
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ioc.app import Catalog, IngestService, build_decoder, ingest_options
from ioc.broker import MosquittoProcess, free_port, wait_for_port
from ioc.config import Settings, load_settings
from ioc.domain import Inventory, Profile, RetryLater
from ioc.state import DeadLetterLog, connect_state
from ioc.store import SqliteStore
from tests.support.mqtt import publish_all, telemetry, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def catalog(profiles: dict[str, Profile], inventory: Inventory) -> Catalog:
    return Catalog(profiles, inventory)


def _settings(broker: MosquittoProcess, tmp_path: Path, **extra: Any) -> Settings:
    return load_settings(
        mqtt_url=broker.url, data_dir=tmp_path / "data", batch_interval_s=0.05, **extra
    )


class _Services:
    """Starts ingest services and stops whatever is left at the end of the test."""

    def __init__(self) -> None:
        self.running: list[IngestService] = []

    def start(self, settings: Settings, catalog: Catalog, store: Any) -> IngestService:
        dead = DeadLetterLog(connect_state(settings.resolved_state_url), 1000)
        service = IngestService(
            build_decoder(settings, catalog), store, dead, ingest_options(settings)
        )
        service.start()
        assert service.consumer.wait_connected(10)
        self.running.append(service)
        return service

    def stop(self, service: IngestService) -> None:
        service.stop()
        self.running.remove(service)


@pytest.fixture
def services() -> Iterator[_Services]:
    started = _Services()
    yield started
    for service in list(started.running):
        started.stop(service)


def _bts_messages(count: int, start_seq: int = 0) -> list[tuple[str, bytes]]:
    # A minute ago, from when the test runs: a time taken at import would be long past in a
    # long suite, beyond the clock skew ingest allows, and replaced by the time of receipt.
    start = time.time_ns() // 1_000_000 - 60_000
    return [
        telemetry(f"bts-QT-{(i % 50) + 1:05d}", i, start + i)
        for i in range(start_seq, start_seq + count)
    ]


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_messages_reach_the_store(
    protocol: str,
    mosquitto: MosquittoProcess,
    tmp_path: Path,
    catalog: Catalog,
    services: _Services,
) -> None:
    store = SqliteStore(tmp_path / "t.db")
    service = services.start(_settings(mosquitto, tmp_path, mqtt_protocol=protocol), catalog, store)
    huge = ("ioc/bts/bts-QT-00001/telemetry", b"[" + b"1," * 150_000 + b"1]")  # spans reads
    messages = [
        *_bts_messages(250),
        ("ioc/bts/bts-QT-00001/telemetry", b"junk"),
        huge,
        *_bts_messages(250, start_seq=250),
    ]
    publish_all(mosquitto.port, messages)
    wait_until(
        lambda: service.stats.stored == 500 and service.stats.rejected_total == 2,
        what="500 stored and 2 rejected",
    )
    assert store.count("bts") == 500
    assert service.stats.rejected == {"bad_json": 1, "too_large": 1}


def test_unacknowledged_messages_survive_an_ingest_crash(
    mosquitto: MosquittoProcess, tmp_path: Path, catalog: Catalog, services: _Services
) -> None:
    """The store is down, so nothing is acknowledged; the ingestor dies; its successor gets all."""

    class DownStore(SqliteStore):
        def write(self, items: Any) -> None:
            raise RetryLater("influx is down")

    settings = _settings(mosquitto, tmp_path)
    first = services.start(settings, catalog, DownStore(tmp_path / "down.db"))
    publish_all(mosquitto.port, _bts_messages(300))
    wait_until(lambda: first.stats.received == 300, what="300 received")
    # A crash: the connection drops without acknowledging anything.
    first._stop_flusher.set()
    first.consumer._client.socket().close()  # type: ignore[union-attr]
    first.consumer._client.loop_stop()
    services.running.remove(first)
    store = SqliteStore(tmp_path / "t.db")
    second = services.start(settings, catalog, store)
    wait_until(lambda: store.count("bts") == 300, what="all 300 stored after the restart")
    # The count follows the write: it may lag the rows by a moment, never pass them.
    wait_until(lambda: second.stats.stored >= 300, what="the stored count")
    assert second.stats.stored == 300


def test_broker_keeps_a_flood_while_ingest_is_away_and_across_its_restart(
    mosquitto: MosquittoProcess, tmp_path: Path, catalog: Catalog, services: _Services
) -> None:
    """Far more than stock Mosquitto's 1,000 queued messages, and a broker restart on top."""
    settings = _settings(mosquitto, tmp_path)
    store = SqliteStore(tmp_path / "t.db")
    first = services.start(settings, catalog, store)
    services.stop(first)  # the session stays on the broker
    publish_all(mosquitto.port, _bts_messages(20_000))
    mosquitto.restart()
    second = services.start(settings, catalog, store)
    wait_until(lambda: store.count("bts") == 20_000, timeout_s=60, what="20,000 stored")
    assert second.stats.stored == 20_000 and second.stats.duplicates == 0


def test_a_shared_subscription_splits_the_load(
    mosquitto: MosquittoProcess, tmp_path: Path, catalog: Catalog, services: _Services
) -> None:
    store = SqliteStore(tmp_path / "t.db")
    one = services.start(
        _settings(mosquitto, tmp_path, mqtt_shared_group="ingest", mqtt_client_id="ingest-1"),
        catalog,
        store,
    )
    two = services.start(
        _settings(mosquitto, tmp_path, mqtt_shared_group="ingest", mqtt_client_id="ingest-2"),
        catalog,
        store,
    )
    publish_all(mosquitto.port, _bts_messages(2000))
    wait_until(lambda: one.stats.stored + two.stats.stored == 2000, what="2000 stored in all")
    assert one.stats.stored > 0 and two.stats.stored > 0
    assert store.count("bts") == 2000


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[MosquittoProcess, int, Path]]:
    """Mosquitto with a TLS listener whose self-signed certificate is its own CA."""
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(certs / "key.pem"),
            "-out",
            str(certs / "cert.pem"),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    tls_port = free_port()
    broker = MosquittoProcess(
        tmp_path / "mosquitto",
        extra_config=f"listener {tls_port} 127.0.0.1\ncertfile {certs / 'cert.pem'}\n"
        f"keyfile {certs / 'key.pem'}\n",
    )
    broker.start()
    wait_for_port(tls_port, 10)
    yield broker, tls_port, certs / "cert.pem"
    broker.stop()


def test_mqtts_with_a_private_ca(
    tls_broker: tuple[MosquittoProcess, int, Path],
    tmp_path: Path,
    catalog: Catalog,
    services: _Services,
) -> None:
    broker, tls_port, ca_file = tls_broker
    store = SqliteStore(tmp_path / "t.db")
    settings = load_settings(
        mqtt_url=f"mqtts://127.0.0.1:{tls_port}",
        mqtt_ca_file=ca_file,
        data_dir=tmp_path / "data",
        batch_interval_s=0.05,
    )
    service = services.start(settings, catalog, store)
    publish_all(broker.port, _bts_messages(100))  # devices on the plain listener
    wait_until(lambda: service.stats.stored == 100, what="100 stored over TLS")


# paho leaks the socket of a failed TLS handshake (it never closes it); that is its bug.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_mqtts_refuses_an_unknown_certificate(
    tls_broker: tuple[MosquittoProcess, int, Path],
    tmp_path: Path,
    catalog: Catalog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _broker, tls_port, _ca_file = tls_broker
    settings = load_settings(mqtt_url=f"mqtts://127.0.0.1:{tls_port}", data_dir=tmp_path / "data")
    dead = DeadLetterLog(connect_state(settings.resolved_state_url), 10)
    service = IngestService(
        build_decoder(settings, catalog), SqliteStore(tmp_path / "t.db"), dead,
        ingest_options(settings),
    )  # fmt: skip
    service.start()
    try:
        with caplog.at_level(logging.WARNING, logger="ioc.ingest.mqtt"):
            assert not service.consumer.wait_connected(3), "a self-signed broker is not trusted"
        assert "cannot connect to mqtts://127.0.0.1" in caplog.text
    finally:
        service.stop()
        dead.close()
        gc.collect()  # paho's leaked sockets, now, while this test's warning filter holds
