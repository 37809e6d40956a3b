"""docs/security.md's Debian steps, followed on a real Mosquitto started as root the way
Debian's service starts it (it drops to user `mosquitto` before it opens the password file),
in a copy of Debian's layout under a temporary root: `ioc identities make ... --broker-owner
mosquitto`, the drop-in file linked into conf.d, the broker started, ioc's ingest and a device
logged in, and a reload through Debian's pid file. Then the attack: a device connecting with
ioc's client id does not take ioc's session."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ioc.broker import free_port, read_secrets, stop_process, wait_for_port
from tests.support.cli import invoke_ioc
from tests.support.mqtt import wait_until
from tests.support.netns import NEEDS_ROOT

pytestmark = [NEEDS_ROOT, pytest.mark.integration]

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
# Debian's /etc/mosquitto/mosquitto.conf, its paths under the test's root.
DEBIAN_CONF = """\
# Place your local configuration in /etc/mosquitto/conf.d/
pid_file {root}/run/mosquitto/mosquitto.pid
persistence true
persistence_location {root}/var/lib/mosquitto/
log_dest file {root}/var/log/mosquitto/mosquitto.log
include_dir {root}/etc/mosquitto/conf.d
"""


@pytest.fixture
def debian() -> Iterator[Path]:
    """A root with Debian's folders: /etc/mosquitto/conf.d, /run/mosquitto, /var/lib/mosquitto
    and /var/log/mosquitto as the package leaves them (the last three the broker's own)."""
    root = Path(tempfile.mkdtemp(prefix="ioc-debian-"))
    root.chmod(0o755)  # like /
    for folder in ("etc/mosquitto/conf.d", "etc/ioc", "run/mosquitto", "var/lib/mosquitto",
                   "var/log/mosquitto"):  # fmt: skip
        (root / folder).mkdir(parents=True)
    for folder in ("run/mosquitto", "var/lib/mosquitto", "var/log/mosquitto"):
        shutil.chown(root / folder, "mosquitto", "mosquitto")
    for parent in (root / "etc", root / "etc/ioc", root / "run", root / "var", root / "var/lib",
                   root / "var/log"):  # fmt: skip
        parent.chmod(0o755)
    (root / "etc/mosquitto/mosquitto.conf").write_text(DEBIAN_CONF.format(root=root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


class Client:
    """An MQTT 5 client with a client id of its choosing; counts its disconnections."""

    def __init__(self, port: int, client_id: str, user: str, secret: str,
                 tls: tuple[Path, Path, Path] | None = None) -> None:  # fmt: skip
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, secret)
        if tls is not None:
            self.client.tls_set(*(str(p) for p in tls))
        self.connected = threading.Event()
        self.disconnections = 0
        self.received: list[bytes] = []
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, message: self.received.append(message.payload)
        session = Properties(PacketTypes.CONNECT)
        session.SessionExpiryInterval = 3600  # a persistent session, as ioc's ingest keeps
        self.client.connect("127.0.0.1", port, properties=session, clean_start=False)
        self.client.loop_start()
        wait_until(self.connected.is_set, 10, f"{user} connected")

    def _on_connect(self, *_args: object) -> None:
        self.connected.set()

    def _on_disconnect(self, *_args: object) -> None:
        self.disconnections += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_the_debian_steps_give_a_broker_that_starts_and_keeps_ioc_s_session(
    debian: Path,
) -> None:
    identities = debian / "etc/ioc/identities"
    ioc_port, device_port = free_port(), free_port()
    env = {"IOC_DATA_DIR": str(debian / "data"), "IOC_INVENTORY": str(SMALL_INVENTORY)}
    make = ("identities", "make", "--out", str(identities), "--tls-host", "127.0.0.1",
            "--broker-owner", "mosquitto", "--ioc-listener", f"127.0.0.1:{ioc_port}",
            "--device-listener", f"127.0.0.1:{device_port}")  # fmt: skip
    made = invoke_ioc(*make, env=env)
    assert made.returncode == 0, made.stderr
    conf = identities / "mosquitto/ioc.conf"
    assert f"ln -sf {conf} /etc/mosquitto/conf.d/ioc.conf" in made.stdout
    (debian / "etc/mosquitto/conf.d/ioc.conf").symlink_to(conf)
    # As Debian's unit starts it: root, Debian's conf; it drops to `mosquitto` by itself.
    broker = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c",
         str(debian / "etc/mosquitto/mosquitto.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    clients: list[Client] = []
    try:
        # Up once it says it runs, every listener open: a bare TCP probe of the TLS listener
        # would make it log an OpenSSL error, which the log check below would then find.
        wait_for_port(ioc_port, 10, broker)
        log_file = debian / "var/log/mosquitto/mosquitto.log"
        wait_until(lambda: " running" in log_file.read_text(), 10, "the broker running")
        secrets = read_secrets(identities)
        ingest = Client(ioc_port, "ioc-ingest", "ioc-ingest", secrets["ioc-ingest"])
        clients.append(ingest)
        ingest.client.subscribe("ioc/netgw/+/telemetry", qos=1)
        tls = identities / "tls"
        gw1 = (tls / "ca.crt", tls / "clients/gw1.crt", tls / "clients/gw1.key")
        # The attack: gw1's own valid identity, with ioc's documented client id.
        hijack = Client(device_port, "ioc-ingest", "gw1", secrets["gw1"], gw1)
        clients.append(hijack)
        hijack.client.publish("ioc/netgw/gw1/telemetry", b'{"ts": 1}', qos=1).wait_for_publish(5)
        wait_until(lambda: ingest.received == [b'{"ts": 1}'], 10, "ingest still receives")
        assert ingest.disconnections == 0  # ioc kept its connection and its session
        # Adding or revoking later reloads the broker through Debian's pid file.
        reload = invoke_ioc(*make, "--reload", str(debian / "run/mosquitto/mosquitto.pid"),
                            env=env)  # fmt: skip
        assert reload.returncode == 0 and "told to reload" in reload.stdout, reload.stderr
        assert broker.poll() is None
    finally:
        for client in clients:
            client.close()
        stop_process(broker)
    log = (debian / "var/log/mosquitto/mosquitto.log").read_text()
    assert "Error" not in log, log[-2000:]


def _uid() -> int:
    import pwd

    return pwd.getpwnam("mosquitto").pw_uid


def test_a_folder_the_broker_cannot_reach_is_said_with_the_reason(debian: Path) -> None:
    private = debian / "root"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)
    made = invoke_ioc(
        "identities", "make", "--out", str(private / "identities"), "--broker-owner",
        "mosquitto", env={"IOC_DATA_DIR": str(debian / "data"),
                          "IOC_INVENTORY": str(SMALL_INVENTORY)},
    )  # fmt: skip
    assert made.returncode == 0  # a broker in a container mounts the folder: a warning
    assert (
        f"ioc: warning: a broker on this host running as uid {_uid()} cannot "
        f"reach {private / 'identities' / 'mosquitto'}: {private} lets only its owner in "
        "(mode 700)"
    ) in made.stderr, made.stderr
