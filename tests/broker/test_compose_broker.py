"""The broker of docker-compose.yml, run for real: deploy/mosquitto.conf and ioc's limits
mounted as the compose file mounts them (paths moved under a temp dir, ports made free and
loopback), with identities made by `write_identities`. No Docker here, but the same Mosquitto
reads the same files: anonymous refused, ioc logs in on the plain listener, the health check's
identity reads $SYS only, and the TLS listener wants a certificate from ioc's CA."""

from __future__ import annotations

import gc
import getpass
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ioc.broker import (
    IdentityFiles,
    free_port,
    plan_identities,
    read_secrets,
    stop_process,
    wait_for_port,
    write_identities,
)
from tests.support.mqtt import ClientTls, MqttUser, wait_until

ROOT = Path(__file__).resolve().parents[2]
NOT_AUTHORIZED = 135


@dataclass
class ComposeBroker:
    plain_port: int
    tls_port: int
    made: IdentityFiles
    secrets: dict[str, str]
    log: Path


def _container_layout(root: Path, identities: Path) -> Path:
    """The mosquitto service's volumes, recreated under `root`; returns the config file."""
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["mosquitto"]
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        inside = root / target.removeprefix("/")
        inside.parent.mkdir(parents=True, exist_ok=True)
        if source.startswith("./identities/"):
            inside.symlink_to(identities / source.removeprefix("./identities/"))
        elif source.startswith("./"):
            inside.symlink_to(ROOT / source.removeprefix("./"))
        else:  # a named volume
            inside.mkdir()
    return root / service["command"].split(" -c ")[1].removeprefix("/")


@pytest.fixture(scope="module")
def compose_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeBroker]:
    if shutil.which("mosquitto", path="/usr/sbin:/usr/bin") is None:
        pytest.fail("mosquitto is not installed (scripts/install-test-deps.sh installs it)")
    base = tmp_path_factory.mktemp("compose")
    identities = base / "identities"
    plan = plan_identities("ioc", [("bts", "bts-1")], [], [])
    made = write_identities(identities, plan, tls_hosts=["localhost", "127.0.0.1"])
    root = base / "root"
    config = _container_layout(root, identities)
    plain_port, tls_port = free_port(), free_port()
    text = config.read_text(encoding="utf-8")
    text = text.replace(" /mosquitto/", f" {root}/mosquitto/")
    text = text.replace("listener 1883 0.0.0.0", f"listener {plain_port} 127.0.0.1")
    text = text.replace("listener 8883 0.0.0.0", f"listener {tls_port} 127.0.0.1")
    assert str(root) in text and str(tls_port) in text, "deploy/mosquitto.conf changed shape"
    # As root Mosquitto would drop to `mosquitto`, who cannot enter pytest's private temp dir.
    # A log file too: Mosquitto's stdout is block-buffered when it is not a terminal.
    log = base / "mosquitto.log"
    run_config = base / "run.conf"
    run_config.write_text(
        f"{text}\nuser {getpass.getuser()}\nlog_dest file {log}\n", encoding="utf-8"
    )
    process = subprocess.Popen(
        [shutil.which("mosquitto", path="/usr/sbin:/usr/bin") or "", "-c", str(run_config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for_port(plain_port, 10, process)
        wait_for_port(tls_port, 10, process)
        yield ComposeBroker(plain_port, tls_port, made, read_secrets(identities), log)
    finally:
        stop_process(process)


def test_the_plain_listener_wants_an_identity(compose_broker: ComposeBroker) -> None:
    anonymous = MqttUser(compose_broker.plain_port, None, None)
    assert anonymous.connack == NOT_AUTHORIZED
    ioc = MqttUser(compose_broker.plain_port, "ioc", compose_broker.secrets["ioc"])
    assert ioc.connack == 0
    ioc.subscribe("ioc/#")
    device = MqttUser(compose_broker.plain_port, "bts-1", compose_broker.secrets["bts-1"])
    assert device.publish("ioc/bts/bts-1/telemetry") < 0x80
    assert device.publish("ioc/alerts/1") == NOT_AUTHORIZED
    wait_until(lambda: ioc.received, 5, "the device's reading")
    for client in (anonymous, ioc, device):
        client.close()


def test_the_health_check_identity_reads_the_broker_and_nothing_else(
    compose_broker: ComposeBroker,
) -> None:
    """The compose health check's own command, as ioc-monitor."""
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["mosquitto"]
    command = service["healthcheck"]["test"][1].replace("$$", "$")
    command = command.replace("/run/secrets/mqtt_monitor", str(
        compose_broker.made.directory / "secrets" / "ioc-monitor"
    ))  # fmt: skip
    command = re.sub(r"-h 127\.0\.0\.1", f"-h 127.0.0.1 -p {compose_broker.plain_port}", command)
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and done.stdout.strip().endswith("seconds"), done
    monitor = MqttUser(
        compose_broker.plain_port, "ioc-monitor", compose_broker.secrets["ioc-monitor"]
    )
    monitor.subscribe("ioc/#")
    assert monitor.publish("ioc/bts/bts-1/status", "offline") == NOT_AUTHORIZED
    device = MqttUser(compose_broker.plain_port, "bts-1", compose_broker.secrets["bts-1"])
    assert device.publish("ioc/bts/bts-1/telemetry") < 0x80
    assert monitor.received == []
    for client in (monitor, device):
        client.close()


# paho leaks the socket of a failed TLS handshake (it never closes it); that is its bug.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_published_listener_is_tls_with_client_certificates(
    compose_broker: ComposeBroker,
) -> None:
    tls = compose_broker.made.tls
    assert tls is not None
    secret = compose_broker.secrets["bts-1"]
    own = ClientTls(tls.ca_cert, tls.client_cert("bts-1"), tls.client_key("bts-1"))
    device = MqttUser(compose_broker.tls_port, "bts-1", secret, own)
    assert device.connack == 0
    assert device.publish("ioc/bts/bts-1/telemetry") < 0x80
    device.close()
    without = MqttUser(compose_broker.tls_port, "bts-1", secret, ClientTls(tls.ca_cert))
    assert without.connack is None and without.refused
    plain_on_tls = MqttUser(compose_broker.tls_port, "bts-1", secret)
    assert plain_on_tls.connack is None and plain_on_tls.refused
    wait_until(
        lambda: "peer did not return a certificate" in compose_broker.log.read_text(),
        5,
        "the broker's log naming the missing certificate",
    )
    gc.collect()  # paho's leaked sockets, now, while this test's warning filter holds
