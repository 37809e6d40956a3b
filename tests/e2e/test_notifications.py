"""End to end: a fault in `ioc sim` -> `ioc run` (ingest, rules, the notifier) -> one signed
webhook message and one MQTT message for the engineer on the route, listed as sent by
`ioc notifications`."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from ioc.broker import MosquittoProcess
from ioc.inventory import bundled_profiles_dir
from tests.rules.harness import fast_rules
from tests.support.http_receiver import HttpReceiver
from tests.support.influx import InfluxProcess
from tests.support.mqtt import TopicFeed, has_subscriber, wait_until
from tests.support.processes import IocProcess, ioc_env

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
SECRET = "e2e-secret"


def test_a_fault_notifies_its_engineer_once_on_each_channel(
    mosquitto: MosquittoProcess, influxd: InfluxProcess, influx_db: str, tmp_path: Path
) -> None:
    receiver = HttpReceiver()
    receiver.start()
    notify_file = tmp_path / "notify.yaml"
    notify_file.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "link_base": "http://ioc.test:8000",
                "people": [
                    {
                        "id": "an",
                        "name": "Nguyễn Văn An",
                        "contacts": {"webhook": f"{receiver.url}/an", "mqtt": True},
                    },
                ],
                "teams": [{"id": "d1", "members": ["an"], "channels": ["webhook", "mqtt"]}],
                "routes": [
                    {
                        "id": "d1-doors",
                        "match": {"area": "D1", "rules": ["bts.door_open"]},
                        "notify": "d1",
                    },
                ],
                "limits": {"group_wait": "2s"},
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    rules = fast_rules(tmp_path / "rules", "30s", "3s")
    env = ioc_env(mosquitto.url, influxd.url, influx_db, tmp_path / "data", SMALL_INVENTORY, rules)
    env |= {"IOC_NOTIFY_CONFIG": str(notify_file), "IOC_NOTIFY_WEBHOOK_SECRET": SECRET}
    feed = TopicFeed(mosquitto.port, "ioc/notify/#", "test-notify-feed")
    ioc = IocProcess(["run", "--status-every", "2"], env, tmp_path / "ioc.log")
    sim = None
    try:
        wait_until(lambda: has_subscriber(mosquitto.port), 60, "ioc subscribed")
        sim = IocProcess(
            [
                "sim", "--speed", "10", "--inventory", str(SMALL_INVENTORY),
                "--profiles", str(bundled_profiles_dir()), "--quiet",
                "--fault", "door_open:bts2@5/1h",
            ],
            env,
            tmp_path / "sim.log",
        )  # fmt: skip
        wait_until(lambda: bool(receiver.received) and bool(feed.events), 60, "both messages")
        [request] = receiver.received
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-IOC-Signature"] == f"sha256={expected}"
        body = orjson.loads(request.body)
        assert (body["rule"], body["device_id"], body["kind"]) == ("bts.door_open", "bts2", "fired")
        assert "Cửa phòng máy mở" in str(body["subject"])
        assert str(body["link"]).startswith("http://ioc.test:8000/wall/?alert=")
        [message] = feed.events
        assert (
            message["topic"] == "ioc/notify/person/an" and message["alert_id"] == body["alert_id"]
        )
    finally:
        code = ioc.stop()
        if sim is not None:
            sim.stop()
        feed.stop()
        receiver.stop()
    assert code == 0, (tmp_path / "ioc.log").read_text()[-3000:]
    assert len(receiver.received) == 1  # the door stayed open: still one message
    listed = subprocess.run(
        [sys.executable, "-m", "ioc", "notifications", "--json"],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    sent = [(n["channel"], n["status"]) for n in json.loads(listed.stdout)]
    assert sorted(sent) == [("mqtt", "sent"), ("webhook", "sent")]
