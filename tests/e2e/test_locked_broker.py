"""The whole pipeline on a locked broker, as an operator sets it up: `ioc identities make` from
the shipped province's inventory (with TLS certificates), Mosquitto with the password file, ACL
and TLS listener it wrote (anonymous access off), `ioc run` logging in as `ioc` over TLS with
its client certificate, and `ioc sim` with 2,000 devices, each logging in as itself. Without
credentials the simulator gets nowhere; with them everything it sends is stored and a fault is
alerted as before. A Modbus gateway, made an identity from its file, publishes for its
controllers over TLS as itself."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from ioc.broker import MosquittoProcess, free_port, mosquitto_config, read_secrets, wait_for_port
from ioc.domain import AlertState
from ioc.inventory import (
    bundled_inventory_path,
    bundled_profiles_dir,
    load_inventory,
    load_profiles,
)
from ioc.state import AlertRepository, connect_state
from tests.support.clock import VIETNAM
from tests.support.modbus import bts_sites, gateway_file, pty_controllers
from tests.support.mqtt import MqttUser, has_subscriber, wait_until
from tests.support.processes import IocProcess, run_ioc

pytestmark = pytest.mark.e2e
DEVICES = 2000
DOOR_OPEN = "bts-QT-00007"


def _stored_devices(data_dir: Path) -> int:
    database = data_dir / "telemetry.db"
    if not database.is_file():
        return 0
    with closing(sqlite3.connect(database)) as db:
        return int(db.execute("SELECT COUNT(DISTINCT device_id) FROM reading").fetchone()[0])


def _stored_rows(data_dir: Path, device: str) -> int:
    with closing(sqlite3.connect(data_dir / "telemetry.db")) as db:
        query = "SELECT COUNT(*) FROM reading WHERE device_id = ?"
        return int(db.execute(query, (device,)).fetchone()[0])


def _locked_broker(directory: Path, identities: Path) -> tuple[MosquittoProcess, int]:
    tls_port = free_port()
    pid_file = f"pid_file {directory / 'mosquitto.pid'}\n"  # for `ioc identities ... --reload`
    broker = MosquittoProcess(
        directory, extra_config=mosquitto_config(identities, tls_port) + pid_file
    )
    broker.start()
    wait_for_port(tls_port, 10)
    return broker, tls_port


def _tls_login(identities: Path, name: str, tls_port: int) -> dict[str, str]:
    """The settings of a process logging in as `name` over TLS with its own certificate."""
    return {
        "IOC_MQTT_URL": f"mqtts://127.0.0.1:{tls_port}",
        "IOC_MQTT_CA_FILE": str(identities / "tls" / "ca.crt"),
        "IOC_MQTT_CERT_FILE": str(identities / "tls" / "clients" / f"{name}.crt"),
        "IOC_MQTT_KEY_FILE": str(identities / "tls" / "clients" / f"{name}.key"),
        "IOC_MQTT_USERNAME": name,
        "IOC_MQTT_PASSWORD_FILE": str(identities / "secrets" / name),
    }


def test_thousands_of_identities_through_a_locked_broker(tmp_path: Path) -> None:
    identities = tmp_path / "identities"
    made = run_ioc(
        "identities", "make", "--out", str(identities), "--tls-host", "127.0.0.1",
        env={"IOC_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert re.search(r"identities: \d{4} added, 0 kept, 0 revoked", made.stdout), made.stdout
    assert re.search(r"tls: \d{4} client certificates issued", made.stdout), made.stdout
    broker, _tls_port = _locked_broker(tmp_path / "mosquitto", identities)
    data = tmp_path / "data"
    plain = {"IOC_MQTT_URL": broker.url, "IOC_DATA_DIR": str(data)}
    # ioc's own processes on the plain listener, as on the broker's host (docs/security.md);
    # the TLS listener makes a client's id its identity, and `ioc run` is several clients.
    ioc_login = {"IOC_MQTT_USERNAME": "ioc",
                 "IOC_MQTT_PASSWORD_FILE": str(identities / "secrets" / "ioc")}  # fmt: skip
    ioc = IocProcess(
        ["run", "--status-every", "2"],
        {**plain, **ioc_login, "IOC_API_PORT": str(free_port())},
        tmp_path / "ioc.log",
    )
    try:
        monitor = read_secrets(identities)["ioc-monitor"]
        wait_until(lambda: has_subscriber(broker.port, "ioc-monitor", monitor), 60, "ioc up")
        sim_args = ["sim", "--devices", str(DEVICES), "--speed", "60", "--quiet",
                    "--classes", "bts"]  # fmt: skip
        anonymous = run_ioc(*sim_args, "--duration", "3", env=plain)
        assert f"sim: 0/{DEVICES} connected, 0 telemetry" in anonymous.stderr, anonymous.stderr
        # Run until every device is stored, not for a fixed time: how fast 2,000 connections
        # are accepted depends on how busy the machine is, which is not what this test is about.
        with_identities = IocProcess(
            [*sim_args, "--duration", "90", "--credentials", str(identities / "identities.csv"),
             "--fault", f"door_open:{DOOR_OPEN}@0/1h"],
            plain, tmp_path / "sim.log",
        )  # fmt: skip
        wait_until(lambda: _stored_devices(data) == DEVICES, 80, "every device stored")
        assert with_identities.stop() == 0
        sim_log = with_identities.log.read_text(encoding="utf-8")
        summary = sim_log.strip().splitlines()[-1]  # after all disconnected
        sent = re.search(r"connected, (\d+) telemetry", summary)
        assert sent and int(sent.group(1)) >= DEVICES, summary
        assert summary.endswith(" 0 connect failures, 0 refused"), summary
        # Three devices misprovisioned with the first one's identity: it may publish, the
        # other two are refused by the broker, and the simulator counts it (MQTT 5).
        first = "bts-QT-00001"
        secret = read_secrets(identities)[first]
        shared = run_ioc(
            "sim", "--devices", "3", "--classes", "bts", "--speed", "60", "--duration", "3",
            "--quiet", "--mqtt-url", f"mqtt://{first}:{secret}@127.0.0.1:{broker.port}",
            env=plain,
        )  # fmt: skip
        refused = re.search(r"(\d+) refused$", shared.stderr.strip().splitlines()[-1])
        assert refused and int(refused.group(1)) > 0, shared.stderr
        assert "bts-QT-00002: the broker refuses its publishes (Not authorized)" in shared.stderr
        # Revoked while ioc runs: the broker reloads, that device is refused, the others go on.
        revoked = run_ioc(
            "identities", "revoke", "bts-QT-00002", "--out", str(identities),
            "--reload", str(tmp_path / "mosquitto" / "mosquitto.pid"), env=plain,
        )  # fmt: skip
        assert revoked.returncode == 0 and "told to reload" in revoked.stdout, revoked.stderr
        before = _stored_rows(data, "bts-QT-00003")
        after_revoking = run_ioc(
            "sim", "--devices", "3", "--classes", "bts", "--speed", "60", "--duration", "3",
            "--quiet", "--credentials", str(identities / "identities.csv"), env=plain,
        )  # fmt: skip
        last = after_revoking.stderr.strip().splitlines()[-1]
        failures = re.search(r"(\d+) connect failures", last)
        assert failures and int(failures.group(1)) > 0, after_revoking.stderr
        wait_until(lambda: _stored_rows(data, "bts-QT-00003") > before, 30, "the others stored")
        assert ioc.running
    finally:
        code = ioc.stop()
        broker.stop()
    log = (tmp_path / "ioc.log").read_text(encoding="utf-8")
    assert code == 0, log[-3000:]
    assert log.count("connected to mqtt://") == 1, "ioc never reconnected, never restarted"
    statuses = [line for line in log.splitlines() if "rejected" in line]
    assert statuses and "rejected 0" in statuses[-1], statuses[-1:]
    with closing(AlertRepository(connect_state(f"sqlite:///{data / 'state.db'}"))) as alerts:
        doors = [a for a in alerts.list_alerts(limit=10_000) if a.rule_id == "bts.door_open"]
    assert [(a.device_id, a.state) for a in doors] == [(DOOR_OPEN, AlertState.FIRING)]


@pytest.fixture
def gateway_identities(tmp_path: Path) -> Iterator[tuple[Path, Path, str, str]]:
    """Two controllers on a pty, the gateway's file, and identities made with it."""
    profiles = load_profiles(bundled_profiles_dir())
    inventory = load_inventory(bundled_inventory_path(), profiles, VIETNAM)
    site_a, site_b = bts_sites(inventory)
    with pty_controllers() as (line, _slave):
        path = gateway_file(tmp_path, line, site_a, site_b, "sgw-locked-1")
        identities = tmp_path / "identities"
        made = run_ioc(
            "identities", "make", "--out", str(identities), "--tls-host", "localhost",
            "--gateway", str(path), env={"IOC_DATA_DIR": str(tmp_path)},
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        yield path, identities, site_a, site_b


def test_a_gateway_publishes_for_its_controllers_as_itself(
    gateway_identities: tuple[Path, Path, str, str], tmp_path: Path
) -> None:
    path, identities, site_a, site_b = gateway_identities
    broker, tls_port = _locked_broker(tmp_path / "mosquitto", identities)
    secrets = read_secrets(identities)
    watcher = MqttUser(broker.port, "ioc-ingest", secrets["ioc-ingest"])
    watcher.subscribe("ioc/#")
    login = _tls_login(identities, "sgw-locked-1", tls_port)
    login["IOC_MQTT_URL"] = login["IOC_MQTT_URL"].replace("127.0.0.1", "localhost")
    gateway = IocProcess(
        ["gateway", "modbus", str(path)],
        {**login, "IOC_DATA_DIR": str(tmp_path / "data")},
        tmp_path / "gateway.log",
    )
    try:

        def heard(topic: str) -> bool:
            return any(t == topic for t, _ in watcher.received)

        for device in (f"bts/{site_a}", f"bts/{site_b}", "serialgw/sgw-locked-1"):
            wait_until(lambda d=device: heard(f"ioc/{d}/telemetry"), 30, f"{device} telemetry")
        assert ("ioc/serialgw/sgw-locked-1/status", b"online") in watcher.received
        # Its health reading counts no refused publish: the ACL lets it speak for both sites.
        health = [p for t, p in watcher.received if t == "ioc/serialgw/sgw-locked-1/telemetry"]
        assert b'"refused":0' in health[-1].replace(b" ", b""), health[-1]
    finally:
        assert gateway.stop() == 0, (tmp_path / "gateway.log").read_text()[-2000:]
        watcher.close()
        broker.stop()
