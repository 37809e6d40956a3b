"""The `ioc` command as a user runs it: exit codes, messages, and a short demo."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib3

from ioc.broker import MosquittoProcess, free_port
from tests.conftest import V2_TOKEN
from tests.support.cli import invoke_ioc
from tests.support.influx import V2Forwarder
from tests.support.mqtt import has_subscriber, publish_all, telemetry, wait_until
from tests.support.processes import IocProcess, run_ioc

ROOT = Path(__file__).resolve().parents[2]


def test_check_config_ok(tmp_path: Path) -> None:
    result = invoke_ioc("check-config", env={"IOC_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "ok: 5 device classes (bts, netgw, probe, serialgw, vc), 2,620 devices in 280 areas" in (
        result.stdout
    )
    assert f"embedded SQLite at {tmp_path / 'telemetry.db'}" in result.stdout


def test_check_config_reports_every_mistake_and_fails() -> None:
    result = invoke_ioc("check-config", env={"IOC_MQTT_URL": "http://x", "IOC_BATCH_SIZE": "0"})
    assert result.returncode == 2
    assert "IOC_MQTT_URL: must start with mqtt:// or mqtts://" in result.stderr
    assert "IOC_BATCH_SIZE: Input should be greater than or equal to 1" in result.stderr


def test_check_config_rejects_a_bad_inventory(tmp_path: Path) -> None:
    bad = ROOT / "tests" / "inventory" / "testdata" / "dangling_dependency.yaml"
    result = invoke_ioc("check-config", env={"IOC_INVENTORY": str(bad)})
    assert result.returncode == 2
    assert "depends on 'gw-missing', which does not exist" in result.stderr


def test_inventory_generate_writes_a_loadable_file(tmp_path: Path) -> None:
    out = tmp_path / "big.json"
    result = invoke_ioc(
        "inventory", "generate", "--devices", "20000", "--two-level", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert 19_000 < len(document["devices"]) < 21_000
    assert not any(area["kind"] == "district" for area in document["areas"])
    check = invoke_ioc("check-config", env={"IOC_INVENTORY": str(out)})
    assert check.returncode == 0, check.stderr


def test_sim_help_lists_fault_kinds() -> None:
    result = invoke_ioc("sim", "--help")
    assert result.returncode == 0
    assert "mains_failure" in result.stdout and "--speed" in result.stdout


@pytest.mark.integration
@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_runs_the_pipeline_and_shows_rejects(broker: str, tmp_path: Path) -> None:
    # Long enough on a loaded machine for the API to answer and notifications to go out.
    args = ["demo", "--devices", "300", "--speed", "30", "--duration", "20"]
    if broker == "embedded":
        args.append("--embedded-broker")
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_API_PORT": str(free_port())}
    log = tmp_path / "demo.log"
    demo = IocProcess(args, env, log)
    try:
        # The demo serves the wall and prints its address with a viewer token that works.
        wait_until(lambda: "/wall/?token=" in log.read_text(), 60, "the wall's address")
        wall = re.search(r"wall +(http://\S+/wall/\?token=(ioc_\S+))", log.read_text())
        assert wall, log.read_text()
        assert urllib3.request("GET", wall.group(1)).status == 200
        base, token = wall.group(1).split("/wall/")[0], wall.group(2)
        overview = urllib3.request("GET", f"{base}/api/v1/overview?area_depth=1&token={token}")
        assert overview.status == 200 and json.loads(overview.data)["classes"], overview.data
        # ...and an operator's account to sign in with on the wall.
        person = re.search(r"sign in +(\S+) / (\S+) on the wall", log.read_text())
        assert person, log.read_text()
        session = urllib3.request(
            "POST", f"{base}/api/v1/session",
            json={"username": person.group(1), "password": person.group(2)},
        )  # fmt: skip
        assert session.status == 200 and json.loads(session.data)["role"] == "operator"
        code = demo.wait(timeout=120)
    finally:
        if demo.running:
            demo.stop()
    assert code == 0, log.read_text()[-3000:]
    output = log.read_text()
    assert "ioc demo: 300 simulated devices at 30x speed" in output
    stored = re.search(r"ioc demo: stopped\. ([\d,]+) readings stored", output)
    assert stored and int(stored.group(1).replace(",", "")) > 300
    lines = output.replace("\r", "\n").splitlines()
    last_status = [line for line in lines if "devices online" in line][-1]
    probed = "probe      off:" not in output  # off where this Python may not ping
    # 300, the Modbus gateway, and the probe.
    online = re.match(rf"(\d+)/{302 if probed else 301} devices online", last_status)
    assert online and int(online.group(1)) >= 250, last_status
    assert "bad_json" in last_status, last_status
    assert (tmp_path / "demo" / "telemetry.db").is_file()
    # The duty officer's phone got the incidents as they happened.
    assert "notify -> truc-ban: [IOC] SỰ CỐ" in output, output[-3000:]
    # Asked by status: the newest are often held by the hourly limit or skipped.
    sent = run_ioc(
        "notifications", "--demo", "--status", "sent", "--json",
        env={"IOC_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    listed = json.loads(sent.stdout)
    assert listed and {n["status"] for n in listed} == {"sent"}, sent.stdout
    # The injected faults raised their alerts (the rules run on the simulation's clock).
    listed = run_ioc("alerts", "--demo", "--json", env={"IOC_DATA_DIR": str(tmp_path)})
    assert listed.returncode == 0, listed.stderr
    alerts = {(a["rule"], a["device_id"]): a for a in json.loads(listed.stdout)}
    assert ("bts.mains_failure", "bts-QT-00001") in alerts, sorted(alerts)
    gateway = alerts[("netgw.wan_down", "gw-QT-D01-C0001")]
    assert gateway["root_id"] is None and gateway["severity"] == "critical"
    # Two sites speak Modbus over a pty through the gateway; the second one has lost its mains.
    modbus = re.search(r"modbus +(\S+) and (\S+) \(mains failure\) are site controllers", output)
    assert modbus, output[:3000]
    assert alerts[("bts.mains_failure", modbus.group(2))]["state"] == "firing"
    assert ("bts.mains_failure", modbus.group(1)) not in alerts
    assert ("device.down", modbus.group(1)) not in alerts
    if broker == "mosquitto":  # amqtt's last-will timing differs; Mosquitto's is immediate
        assert alerts[("device.down", "bts-QT-00003")]["state"] == "firing"
    if probed:  # gw-QT-D01-C0001 and its endpoint speak only SNMP and SIP, through `ioc probe`
        assert "probe      gw-QT-D01-C0001, gw-QT-D03-C0003, vc-QT-D01-C0001" in output
        # Its link fault came as SNMP; the endpoint behind it stops answering SIP.
        assert alerts[("vc.sip_unreachable", "vc-QT-D01-C0001")]["root_id"] == gateway["id"]
    else:
        assert alerts[("device.down", "vc-QT-D01-C0001")]["root_id"] == gateway["id"]


@pytest.mark.integration
def test_ingest_stops_with_advice_when_the_bucket_is_missing(
    mosquitto: MosquittoProcess, v2_forwarder: V2Forwarder, tmp_path: Path
) -> None:
    env = {
        "IOC_MQTT_URL": mosquitto.url,
        "IOC_INFLUX_URL": v2_forwarder.url,
        "IOC_INFLUX_API": "v2",
        "IOC_INFLUX_TOKEN": V2_TOKEN,
        "IOC_INFLUX_ORG": "ioc",
        "IOC_INFLUX_DB": "no_such_bucket",
        "IOC_DATA_DIR": str(tmp_path),
        "IOC_BATCH_INTERVAL_S": "0.1",
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    ingest = subprocess.Popen(
        [sys.executable, "-m", "ioc", "ingest"],
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: has_subscriber(mosquitto.port), what="ingest subscribed")
        publish_all(mosquitto.port, [telemetry("bts-QT-00001", 1, int(time.time() * 1000))])
        _, stderr = ingest.communicate(timeout=60)
    finally:
        ingest.kill()
    assert ingest.returncode == 1
    assert "no such bucket or database" in stderr and "IOC_INFLUX_DB" in stderr


def test_check_config_checks_the_notification_file_and_its_channels(tmp_path: Path) -> None:
    testdata = ROOT / "tests" / "notify" / "testdata"
    env = {
        "IOC_DATA_DIR": str(tmp_path),
        "IOC_INVENTORY": str(ROOT / "tests" / "rules" / "testdata" / "inventory.yaml"),
        "IOC_NOTIFY_CONFIG": str(testdata / "bad" / "references.yaml"),
    }
    bad = invoke_ioc("check-config", env=env)
    assert bad.returncode == 2
    assert "routes['r1'].notify: no team or rotation 'nowhere'" in bad.stderr
    unconfigured = invoke_ioc(
        "check-config", env={**env, "IOC_NOTIFY_CONFIG": str(testdata / "notify.yaml")}
    )
    assert unconfigured.returncode == 2
    assert "teams use email needs IOC_SMTP_URL" in unconfigured.stderr
    assert "teams use sms needs IOC_SMS_URL" in unconfigured.stderr
    ready = invoke_ioc(
        "check-config",
        env={
            **env,
            "IOC_NOTIFY_CONFIG": str(testdata / "notify.yaml"),
            "IOC_SMTP_URL": "smtp://ioc@mail.example:587",
            "IOC_SMS_URL": "https://sms.example/send?to={phone}&text={text}",
            "IOC_NOTIFY_WEBHOOK_SECRET": "s",
        },
    )
    assert ready.returncode == 0, ready.stderr
    assert "notifications: 3 people, 2 routes" in ready.stdout
