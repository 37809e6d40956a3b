"""`ioc probe` as a user runs it, against hosts in network namespaces and a private Mosquitto:
readings in the profile's metrics, offline at once on a cut link and online when it returns,
its own health, offline for everyone at a clean stop; a wrong file is a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from ioc.broker import MosquittoProcess
from tests.support.mqtt import StatusWatch, TopicFeed, wait_until
from tests.support.netns import NEEDS_ROOT, net_hosts
from tests.support.processes import IocProcess, run_ioc

GATEWAY, ENDPOINT = "gw-QT-D01-C0001", "vc-QT-D01-C0001"  # the endpoint depends on the gateway


def _probe_file(tmp_path: Path, gateway_address: str, endpoint_address: str) -> Path:
    path = tmp_path / "probe.yaml"
    path.write_text(
        "probe_id: probe-test-1\n"
        "report_interval: 2s\n"
        "icmp: {packets: 5, round: 1s, timeout: 500ms}\n"
        "defaults: {netgw: generic-router, vc: vc-endpoint}\n"
        "targets:\n"
        f"  - {{device: {GATEWAY}, address: {gateway_address}}}\n"
        f"  - {{device: {ENDPOINT}, address: {endpoint_address}}}\n",
        encoding="utf-8",
    )
    return path


@NEEDS_ROOT
def test_the_probe_speaks_for_what_it_pings(mosquitto: MosquittoProcess, tmp_path: Path) -> None:
    env = {"IOC_MQTT_URL": mosquitto.url, "IOC_DATA_DIR": str(tmp_path)}
    with net_hosts(2) as (gateway, endpoint):
        path = _probe_file(tmp_path, gateway.address, endpoint.address)
        watch = StatusWatch(mosquitto.port)
        feed = TopicFeed(mosquitto.port, "ioc/+/+/telemetry", "probe-test-feed")
        statuses = {d: f"ioc/{c}/{d}/status" for c, d in (("netgw", GATEWAY), ("vc", ENDPOINT))}
        probe = IocProcess(["probe", str(path)], env, tmp_path / "probe.log")
        try:
            wait_until(
                lambda: all(watch.status.get(t) == "online" for t in statuses.values()),
                20,
                "both targets online",
            )
            wait_until(lambda: _readings(feed, "netgw", GATEWAY), 10, "a gateway reading")
            first = _readings(feed, "netgw", GATEWAY)[0]
            assert first["loss_pct"] == 0.0 and 0 < first["rtt_ms"] <= first["rtt_max_ms"]
            assert set(first) == {"rtt_ms", "rtt_max_ms", "jitter_ms", "loss_pct"}
            wait_until(lambda: _readings(feed, "vc", ENDPOINT), 10, "an endpoint reading")
            endpoint_reading = _readings(feed, "vc", ENDPOINT)[0]
            assert set(endpoint_reading) == {
                "ping_rtt_ms", "ping_rtt_max_ms", "ping_jitter_ms", "ping_loss_pct", "sip_ok",
            }  # fmt: skip
            assert endpoint_reading["sip_ok"] is False  # it pings, but no SIP agent runs there

            gateway.cut()  # offline after the round that heard nothing, not a silence window
            wait_until(lambda: watch.status[statuses[GATEWAY]] == "offline", 5, "offline")
            heard, rounds = (
                len(_readings(feed, "netgw", GATEWAY)),
                len(_readings(feed, "vc", ENDPOINT)),
            )
            wait_until(lambda: len(_readings(feed, "vc", ENDPOINT)) >= rounds + 2, 10, "2 rounds")
            assert len(_readings(feed, "netgw", GATEWAY)) == heard  # no reading while it is gone
            assert watch.status[statuses[ENDPOINT]] == "online"
            gateway.restore()
            wait_until(lambda: watch.status[statuses[GATEWAY]] == "online", 5, "back online")

            wait_until(lambda: _readings(feed, "probe", "probe-test-1"), 10, "its own health")
            health = _readings(feed, "probe", "probe-test-1")[-1]
            assert health["targets"] == 2 and health["icmp_sent"] > 0
            assert probe.stop() == 0
            wait_until(
                lambda: (
                    all(watch.status.get(t) == "offline" for t in statuses.values())
                    and watch.status.get("ioc/probe/probe-test-1/status") == "offline"
                ),
                10,
                "a clean stop says offline for everyone",
            )
        finally:
            if probe.running:
                probe.stop()
            watch.stop()
            feed.stop()
    log = (tmp_path / "probe.log").read_text()
    assert f"{GATEWAY} (198.51.100.6) does not answer" in log
    assert log.count(f"{GATEWAY} (198.51.100.6) answers") == 2  # at start, and when back
    assert log.count(f"{ENDPOINT}: SIP fails: refused: nothing listens on udp 5060") == 1


@NEEDS_ROOT
def test_a_gateway_added_to_the_inventory_and_the_file_is_probed_without_a_restart(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """The live inventory gets a new gateway (as the API or an import would), the probe file a
    target for it; the running probe takes both up between rounds."""
    env = {"IOC_MQTT_URL": mosquitto.url, "IOC_DATA_DIR": str(tmp_path)}
    with net_hosts(2) as (gateway, endpoint):
        path = tmp_path / "probe.yaml"
        path.write_text(
            "probe_id: probe-test-2\nicmp: {packets: 3, round: 1s, timeout: 500ms}\n"
            f"targets:\n  - {{device: {ENDPOINT}, address: {endpoint.address}, profile: "
            "vc-endpoint}\n",
            encoding="utf-8",
        )
        feed = TopicFeed(mosquitto.port, "ioc/+/+/telemetry", "probe-test-feed-2")
        probe = IocProcess(["probe", str(path)], env, tmp_path / "probe.log")
        try:
            wait_until(lambda: _readings(feed, "vc", ENDPOINT), 20, "the endpoint probed")
            exported = run_ioc("inventory", "export", "--out", str(tmp_path / "inv.yaml"), env=env)
            assert exported.returncode == 0, exported.stderr
            document = yaml.safe_load((tmp_path / "inv.yaml").read_text(encoding="utf-8"))
            document["devices"].append({"id": "gw-new-1", "class": "netgw", "area": "QT",
                                        "name": "Cổng mới"})  # fmt: skip
            (tmp_path / "inv.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
            loaded = run_ioc("inventory", "load", str(tmp_path / "inv.yaml"), "--why", "new gw",
                             env=env)  # fmt: skip
            assert loaded.returncode == 0, loaded.stderr
            assert "inventory version 2 in force: 1 device added" in loaded.stdout
            with path.open("a", encoding="utf-8") as file:
                file.write(f"  - {{device: gw-new-1, address: {gateway.address}, "
                           "profile: generic-router}\n")  # fmt: skip
            wait_until(lambda: _readings(feed, "netgw", "gw-new-1"), 20, "the new gateway probed")
            assert probe.running
        finally:
            if probe.running:
                probe.stop()
            feed.stop()
    log = (tmp_path / "probe.log").read_text()
    assert "probe: 2 targets from now on (0 no longer watched)" in log


def test_a_wrong_probe_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "probe.yaml"
    path.write_text(
        "probe_id: p1\ntargets:\n  - {device: gw-nowhere, address: 198.51.100.2}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "ioc", "probe", str(path), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"ioc: {path}: targets['gw-nowhere']: no device 'gw-nowhere' in the inventory" in (
        result.stderr
    )


def test_check_prints_the_plan(tmp_path: Path) -> None:
    path = _probe_file(tmp_path, "198.51.100.2", "198.51.100.6")
    result = subprocess.run(
        [sys.executable, "-m", "ioc", "probe", str(path), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "probe probe-test-1: 2 targets, ICMP 5 echo requests each every 1s" in result.stderr
    assert f"  generic-router: {GATEWAY}" in result.stderr


def _readings(feed: TopicFeed, device_class: str, device_id: str) -> list[dict[str, object]]:
    topic = f"ioc/{device_class}/{device_id}/telemetry"
    return [dict(e["metrics"]) for e in feed.events if e["topic"] == topic]
