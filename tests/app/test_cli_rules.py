"""`ioc rules`, `ioc rules list / reload` and `ioc alerts` as a user runs them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib3

from ioc.broker import MosquittoProcess, free_port
from tests.rules.harness import RULES_DIR
from tests.support.cli import invoke_ioc
from tests.support.mqtt import publish_all, wait_until
from tests.support.processes import answers, run_ioc

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"


def test_check_config_and_rules_list_name_the_rules(tmp_path: Path) -> None:
    checked = invoke_ioc("check-config", env={"IOC_DATA_DIR": str(tmp_path)})
    assert checked.returncode == 0, checked.stderr
    assert "rules: 24 from " in checked.stdout
    listed = invoke_ioc("rules", "list", env={"IOC_DATA_DIR": str(tmp_path)})
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 24
    assert any(
        line.split()[:4] == ["device.down", "critical", "absence", "2,620"] for line in lines
    ), lines


def test_a_bad_rules_dir_is_refused_with_the_mistake(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "x.yaml").write_text(
        (RULES_DIR / "vc.yaml").read_text(encoding="utf-8").replace("mos", "moss"),
        encoding="utf-8",
    )
    for args in (["check-config"], ["rules", "list"], ["rules", "reload"], ["rules"]):
        result = invoke_ioc(*args, env={"IOC_RULES_DIR": str(tmp_path / "rules")})
        assert result.returncode == 2, args
        assert "rules['vc.poor_quality'].condition.metric: class 'vc' has no metric 'moss'" in (
            result.stderr
        )


def test_reload_without_a_running_process_says_so(tmp_path: Path) -> None:
    result = invoke_ioc("rules", "reload", env={"IOC_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "no running rules process to reload" in result.stderr
    assert "the files are valid" in result.stderr


@pytest.mark.integration
def test_rules_alone_reloads_on_request_and_alerts_lists_what_it_raised(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for path in RULES_DIR.glob("*.yaml"):
        (rules_dir / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    env = {
        "IOC_MQTT_URL": mosquitto.url,
        "IOC_DATA_DIR": str(tmp_path / "data"),
        "IOC_INVENTORY": str(SMALL_INVENTORY),
        "IOC_RULES_DIR": str(rules_dir),
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "ioc", "rules", "--status-every", "1"],
        env={**clean, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pid_file = tmp_path / "data" / "ioc-rules.pid"
        wait_until(pid_file.exists, 30, "the pid file")
        time.sleep(1.0)  # subscribed

        def hot(temp: float) -> tuple[str, bytes]:
            ts = time.time_ns() // 1_000_000
            body = {"ts": ts, "metrics": {"temp_c": temp}}
            return "ioc/bts/bts1/telemetry", json.dumps(body).encode()

        # No alert yet: the default rule wants 40 °C for 5 min. Reload with 1 s instead.
        publish_all(mosquitto.port, [hot(45.0)])
        bts = (rules_dir / "bts.yaml").read_text(encoding="utf-8")
        (rules_dir / "bts.yaml").write_text(
            bts.replace("above: 40\n      for: 5m", "above: 40\n      for: 1s"), encoding="utf-8"
        )
        reloaded = invoke_ioc("rules", "reload", env=env)
        assert reloaded.returncode == 0, reloaded.stderr
        assert f"asked process {process.pid} to reload 24 rules" in reloaded.stdout

        def listed() -> list[dict[str, object]]:
            result = invoke_ioc("alerts", "--json", "--state", "open", env=env)
            assert result.returncode == 0, result.stderr
            return list(json.loads(result.stdout))

        def raised() -> bool:
            publish_all(mosquitto.port, [hot(45.0)])
            return any(a["rule"] == "bts.high_temperature" for a in listed())

        wait_until(raised, 30, "the reloaded rule's alert")
        [alert] = [a for a in listed() if a["rule"] == "bts.high_temperature"]
        assert set(alert) >= {
            "id",
            "rule",
            "device_id",
            "state",
            "severity",
            "probable_cause",
            "root_id",
            "opened_at",
            "updated_at",
        }
        assert alert["probable_cause"] == "highTemperature" and alert["device_id"] == "bts1"
        by_area = invoke_ioc("alerts", "--area", "C2", env=env)
        assert "bts.high_temperature" not in by_area.stdout  # bts1 is in C1
        by_area = invoke_ioc("alerts", "--area", "D1", "--severity", "major", env=env)
        assert "bts.high_temperature" in by_area.stdout
        assert invoke_ioc("alerts", "--area", "nowhere", env=env).returncode == 2

        # An operator takes it on, notes, and resolves it, through the running process.
        number = str(alert["id"])
        acked = invoke_ioc("alerts", "ack", number, "--by", "lan", "--note", "on my way", env=env)
        assert acked.returncode == 0, acked.stderr
        assert acked.stdout.strip() == f"alert #{number}: acknowledged by lan"
        again = invoke_ioc("alerts", "ack", number, "--by", "minh", env=env)
        assert again.returncode == 5 and "already acknowledged by lan" in again.stderr
        noted = invoke_ioc("alerts", "note", number, "aircon tech called", "--by", "lan", env=env)
        assert noted.returncode == 0, noted.stderr
        resolved = invoke_ioc(
            "alerts", "resolve", number, "--by", "lan", "--note", "fixed", env=env
        )
        assert resolved.returncode == 0, resolved.stderr
        shown = invoke_ioc("alerts", "show", number, env=env)
        assert shown.returncode == 0, shown.stderr
        history = [line.split()[2:4] for line in shown.stdout.splitlines()[1:]]
        assert history == [
            ["fired", "rules"],
            ["acknowledged", "lan"],
            ["note", "lan"],
            ["resolved", "lan"],
        ], shown.stdout
        assert "on my way" in shown.stdout and "- fixed" in shown.stdout
        # Every outcome has its exit code: refused 5 (above), not open 5, unknown 4.
        closed = invoke_ioc("alerts", "note", number, "too late", env=env)
        assert closed.returncode == 5 and f"no open alert {number}" in closed.stderr
        missing = invoke_ioc("alerts", "resolve", "999999", env=env)
        assert missing.returncode == 4 and "no alert 999999" in missing.stderr
        unknown = invoke_ioc("alerts", "show", "999999", env=env)
        assert unknown.returncode == 4 and "no alert 999999" in unknown.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr[-3000:]
    assert "rules reloaded: 24 rules in force" in stderr
    assert not pid_file.exists()


def test_maintenance_windows_from_the_command_line(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path)}
    added = invoke_ioc(
        "maintenance",
        "add",
        "--device",
        "gw-QT-D01-C0001",
        "--duration",
        "2h",
        "--reason",
        "fibre splice",
        "--by",
        "lan",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("window #1: device gw-QT-D01-C0001 until ")
    listed = invoke_ioc("maintenance", "list", env=env)
    assert "gw-QT-D01-C0001" in listed.stdout and "fibre splice (lan)" in listed.stdout
    assert invoke_ioc("maintenance", "end", "1", env=env).returncode == 0
    assert invoke_ioc("maintenance", "list", env=env).stdout.strip() == "no maintenance windows"
    ended_twice = invoke_ioc("maintenance", "end", "1", env=env)
    assert ended_twice.returncode == 1 and "no open maintenance window 1" in ended_twice.stderr
    for args, message in [
        (["--device", "nope", "--duration", "1h"], "no device 'nope' in the inventory"),
        (["--rule", "nope", "--duration", "1h"], "no rule 'nope' in force"),
        (["--area", "QT", "--duration", "soon"], "'soon' is not a duration"),
        (["--area", "QT", "--end", "2020-01-01T00:00"], "that window ended already"),
        (["--area", "QT", "--rule", "device.down", "--duration", "1h"], "exactly one of"),
    ]:
        result = invoke_ioc("maintenance", "add", *args, "--reason", "x", env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)


def test_a_request_with_no_running_rules_process_is_queued_and_says_so(tmp_path: Path) -> None:
    result = invoke_ioc("alerts", "ack", "1", "--wait", "0.3", env={"IOC_DATA_DIR": str(tmp_path)})
    assert result.returncode == 3
    assert "request #1 is queued, but no running `ioc run` / `ioc rules` took it" in result.stderr


def test_tokens_from_the_command_line(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path)}
    created = invoke_ioc("token", "create", "--role", "viewer", "--name", "wall-1", env=env)
    assert created.returncode == 0, created.stderr
    lines = created.stdout.strip().splitlines()
    assert lines[0].startswith("token #1 (viewer, wall-1)")
    assert lines[-1].startswith("ioc_") and len(lines[-1]) > 40 and " " not in lines[-1]
    listed = invoke_ioc("token", "list", env=env)
    assert "viewer" in listed.stdout and "wall-1" in listed.stdout
    assert lines[-1] not in listed.stdout  # the secret is never shown again
    assert invoke_ioc("token", "revoke", "1", "--by", "minh", env=env).returncode == 0
    listed = invoke_ioc("token", "list", env=env).stdout
    assert re.search(r"by \S+ \(cli\) revoked .* by minh \(cli\)", listed), listed
    assert invoke_ioc("token", "revoke", "1", env=env).returncode == 1
    bad = invoke_ioc("token", "create", "--role", "root", env=env)
    assert bad.returncode == 2 and "'root' is not one of" in bad.stderr


def test_ioc_api_serves_on_the_configured_port(tmp_path: Path) -> None:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "ioc", "api"],
        env={**clean, "IOC_DATA_DIR": str(tmp_path), "IOC_API_PORT": str(port)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 30, "the API")
        anonymous = urllib3.request("GET", f"http://127.0.0.1:{port}/api/v1/alerts")
        assert anonymous.status == 401
        spec = urllib3.request("GET", f"http://127.0.0.1:{port}/openapi.json")
        assert "/api/v1/alerts/{alert_id}/ack" in json.loads(spec.data)["paths"]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    base = f"http://127.0.0.1:{port}"
    assert f"ioc api: the wall at {base}/wall/, the API at {base}/docs" in stderr
    assert process.returncode == 0, stderr


def test_ioc_api_on_a_taken_port_fails_with_the_reason(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_ioc("api", env={"IOC_DATA_DIR": str(tmp_path), "IOC_API_PORT": str(port)})
    assert result.returncode == 1, result.stderr
    assert f"ioc: api could not start: the API cannot listen at http://127.0.0.1:{port}" in (
        result.stderr
    )
