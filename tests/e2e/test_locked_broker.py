"""The whole pipeline on a locked broker, as an operator sets it up: `ioc identities make` from
the shipped province's inventory, Mosquitto with the password file and ACL it wrote (and
anonymous access off), `ioc ingest` with its own identity read from a secret file, and
`ioc sim` with 2,000 devices, each logging in as itself. Without credentials the simulator
gets nowhere; with them everything it sends is stored."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from ioc.broker import MosquittoProcess, read_secrets
from tests.support.mqtt import has_subscriber, wait_until
from tests.support.processes import IocProcess, run_ioc

pytestmark = pytest.mark.e2e
DEVICES = 2000


def _stored_devices(data_dir: Path) -> int:
    database = data_dir / "telemetry.db"
    if not database.is_file():
        return 0
    with closing(sqlite3.connect(database)) as db:
        return int(db.execute("SELECT COUNT(DISTINCT device_id) FROM reading").fetchone()[0])


def test_thousands_of_identities_through_a_locked_broker(tmp_path: Path) -> None:
    identities = tmp_path / "identities"
    made = run_ioc(
        "identities", "make", "--out", str(identities), env={"IOC_DATA_DIR": str(tmp_path)}
    )
    assert made.returncode == 0, made.stderr
    assert re.search(r"identities: \d{4} added, 0 kept, 0 revoked", made.stdout), made.stdout
    broker = MosquittoProcess(
        tmp_path / "mosquitto",
        extra_config=(
            "allow_anonymous false\n"
            f"password_file {identities}/mosquitto/passwd\n"
            f"acl_file {identities}/mosquitto/acl\n"
        ),
    )
    broker.start()
    data = tmp_path / "data"
    env = {"IOC_MQTT_URL": broker.url, "IOC_DATA_DIR": str(data)}
    ingest = IocProcess(
        ["ingest"],
        {
            **env,
            "IOC_MQTT_USERNAME": "ioc-ingest",
            "IOC_MQTT_PASSWORD_FILE": str(identities / "secrets" / "ioc-ingest"),
        },
        tmp_path / "ingest.log",
    )
    try:
        rules_secret = (identities / "secrets" / "ioc-rules").read_text(encoding="utf-8").strip()
        wait_until(
            lambda: has_subscriber(broker.port, "ioc-rules", rules_secret), 60, "ingest subscribed"
        )
        sim_args = ["sim", "--devices", str(DEVICES), "--speed", "60", "--duration", "6",
                    "--quiet", "--classes", "bts"]  # fmt: skip
        anonymous = run_ioc(*sim_args, "--duration", "3", env=env)
        assert f"sim: 0/{DEVICES} connected, 0 telemetry" in anonymous.stderr, anonymous.stderr
        with_identities = run_ioc(
            *sim_args, "--credentials", str(identities / "identities.csv"), env=env
        )
        summary = with_identities.stderr.strip().splitlines()[-1]  # after all disconnected
        sent = re.search(r"connected, (\d+) telemetry", summary)
        assert sent and int(sent.group(1)) >= DEVICES, summary
        assert summary.endswith(" 0 connect failures, 0 refused"), summary
        wait_until(lambda: _stored_devices(data) == DEVICES, 60, "every device stored")
        # Three devices misprovisioned with the first one's identity: it may publish, the
        # other two are refused by the broker, and the simulator counts it (MQTT 5).
        first = "bts-QT-00001"
        secret = read_secrets(identities)[first]
        shared = run_ioc(
            "sim", "--devices", "3", "--classes", "bts", "--speed", "60", "--duration", "3",
            "--quiet", "--mqtt-url", f"mqtt://{first}:{secret}@127.0.0.1:{broker.port}",
            env=env,
        )  # fmt: skip
        refused = re.search(r"(\d+) refused$", shared.stderr.strip().splitlines()[-1])
        assert refused and int(refused.group(1)) > 0, shared.stderr
        assert "bts-QT-00002: the broker refuses its publishes (Not authorized)" in shared.stderr
    finally:
        assert ingest.stop() == 0
        broker.stop()
    last_status = (tmp_path / "ingest.log").read_text(encoding="utf-8").splitlines()[-1]
    assert "rejected 0" in last_status, last_status
