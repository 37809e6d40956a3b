"""The identities `ioc identities make` writes, loaded by a real Mosquitto: who may connect and
what each may publish and read, tried as an attacker on the operations network would. MQTT 5
clients, so a refused publish comes back as a PUBACK reason code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ioc.broker import (
    Identity,
    IdentityKind,
    MosquittoProcess,
    plan_identities,
    read_secrets,
    revoke,
    write_identities,
)
from tests.support.mqtt import wait_until

NOT_AUTHORIZED = (
    135  # MQTT 5 reason code of a refused CONNECT (Mosquitto 2.0 for a bad secret too) or PUBLISH
)


def accepted(reason: int) -> bool:
    """A PUBACK reason below 0x80 is a success (16: accepted, nobody subscribed)."""
    return reason < 0x80


DEVICES = [("bts", "bts-1"), ("bts", "bts-2"), ("netgw", "gw-1"), ("bts", "bts-behind")]
COLLECTORS = [("serialgw", "sgw-1", [("bts", "bts-behind")])]


class User:
    """An MQTT 5 client that remembers what the broker answered and what it was sent."""

    def __init__(self, port: int, name: str | None, secret: str | None) -> None:
        self.connack: int | None = None
        self.acks: dict[int, int] = {}
        self.received: list[tuple[str, bytes]] = []
        self._changed = threading.Condition()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"t-{name}", protocol=mqtt.MQTTv5
        )
        if name is not None:
            self.client.username_pw_set(name, secret)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(lambda: self.connack is not None, 10, f"the CONNACK of {name}")

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        self.connack = reason.value

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: Properties | None
    ) -> None:
        self.acks[mid] = reason.value

    def publish(self, topic: str, payload: str = "{}") -> int:
        """Publish at QoS 1; the PUBACK's reason code."""
        info = self.client.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.acks, 10, f"the PUBACK on {topic}")
        return self.acks[info.mid]

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Locked:
    broker: MosquittoProcess
    directory: Path
    secrets: dict[str, str]
    users: list[User]

    def user(self, name: str | None, secret: str | None = None) -> User:
        given = secret if secret is not None or name is None else self.secrets[name]
        user = User(self.broker.port, name, given)
        self.users.append(user)
        return user


def _identities() -> list[Identity]:
    return plan_identities("ioc", DEVICES, COLLECTORS, ["alice", "bob"])


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Locked]:
    directory = tmp_path / "identities"
    made = write_identities(directory, _identities())
    broker = MosquittoProcess(
        tmp_path / "mosquitto",
        extra_config=(
            f"allow_anonymous false\npassword_file {made.password_file}\nacl_file {made.acl_file}\n"
        ),
    )
    broker.start()
    bench = Locked(broker, directory, read_secrets(directory), [])
    yield bench
    for user in bench.users:
        user.close()
    broker.stop()


def test_the_plan_gives_each_its_own_topics() -> None:
    by_name = {i.name: i for i in _identities()}
    assert by_name["bts-1"].writes == (
        "ioc/bts/bts-1/telemetry", "ioc/bts/bts-1/event", "ioc/bts/bts-1/status",
    )  # fmt: skip
    assert by_name["bts-1"].reads == ()
    assert "bts-behind" not in by_name  # its gateway speaks for it
    assert "ioc/bts/bts-behind/telemetry" in by_name["sgw-1"].writes
    assert by_name["phone-alice"].reads == ("ioc/notify/person/alice",)
    assert by_name["ioc-ingest"].kind is IdentityKind.SERVICE
    assert by_name["ioc-ingest"].reads == ("ioc/#", "$SYS/#")


def test_nobody_connects_without_a_right_secret(locked: Locked) -> None:
    assert locked.user(None).connack == NOT_AUTHORIZED  # anonymous
    assert locked.user("bts-1", "not-its-secret").connack == NOT_AUTHORIZED
    assert locked.user("bts-1").connack == 0


def test_a_device_publishes_its_own_topics_only(locked: Locked) -> None:
    ingest = locked.user("ioc-ingest")
    ingest.subscribe("ioc/#")
    device = locked.user("bts-1")
    assert accepted(device.publish("ioc/bts/bts-1/telemetry"))
    # As another device, another class, on ioc's own branches: each refused, nothing delivered.
    for topic in (
        "ioc/bts/bts-2/status",
        "ioc/netgw/bts-1/telemetry",
        "ioc/alerts/1",
        "ioc/notify/person/alice",
    ):
        assert device.publish(topic) == NOT_AUTHORIZED, topic
    wait_until(lambda: len(ingest.received) >= 1, 5, "the device's own reading")
    assert [topic for topic, _ in ingest.received] == ["ioc/bts/bts-1/telemetry"]


def test_a_gateway_speaks_for_the_devices_in_its_file(locked: Locked) -> None:
    gateway = locked.user("sgw-1")
    assert accepted(gateway.publish("ioc/bts/bts-behind/telemetry"))
    assert accepted(gateway.publish("ioc/serialgw/sgw-1/status"))
    assert gateway.publish("ioc/bts/bts-1/telemetry") == NOT_AUTHORIZED


def test_devices_read_nothing_and_a_phone_its_own_topic_only(locked: Locked) -> None:
    snoop = locked.user("gw-1")
    snoop.subscribe("#")
    alice = locked.user("phone-alice")
    alice.subscribe("ioc/notify/#")
    rules = locked.user("ioc-rules")
    assert accepted(rules.publish("ioc/notify/person/alice", "for alice"))
    assert accepted(rules.publish("ioc/notify/person/bob", "for bob"))
    assert accepted(locked.user("bts-1").publish("ioc/bts/bts-1/telemetry"))
    wait_until(lambda: alice.received, 5, "alice's message")
    assert alice.publish("ioc/notify/person/bob") == NOT_AUTHORIZED
    assert alice.received == [("ioc/notify/person/alice", b"for alice")]
    assert snoop.received == []


def test_a_revoked_device_is_refused_after_a_reload_while_the_others_go_on(
    locked: Locked,
) -> None:
    kept, gone = locked.user("bts-1"), locked.user("bts-2")
    assert accepted(gone.publish("ioc/bts/bts-2/telemetry"))
    revoke(locked.directory, "bts-2")
    made = write_identities(locked.directory, _identities())
    assert made.revoked == ("bts-2",) and made.added == ()
    assert read_secrets(locked.directory)["bts-1"] == locked.secrets["bts-1"]  # kept as it was
    assert locked.broker.process is not None
    locked.broker.process.send_signal(1)  # SIGHUP: the broker re-reads both files
    # Mosquitto checks the connected clients again: bts-2 is put off at once.
    wait_until(lambda: not gone.client.is_connected(), 10, "bts-2 disconnected")
    assert locked.user("bts-2").connack == NOT_AUTHORIZED  # a new connection too
    assert accepted(kept.publish("ioc/bts/bts-1/telemetry"))  # the others never noticed


def test_making_again_keeps_every_secret_and_adds_the_new(tmp_path: Path) -> None:
    first = write_identities(tmp_path, _identities())
    secrets_before = read_secrets(tmp_path)
    again = write_identities(tmp_path, _identities())
    assert (again.added, again.kept) == ((), first.kept + len(first.added))
    grown = plan_identities("ioc", [*DEVICES, ("vc", "vc-9")], COLLECTORS, ["alice", "bob"])
    added = write_identities(tmp_path, grown)
    assert added.added == ("vc-9",)
    assert {n: s for n, s in read_secrets(tmp_path).items() if n != "vc-9"} == secrets_before
    assert (tmp_path / "identities.csv").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets" / "sgw-1").read_text() == secrets_before["sgw-1"] + "\n"
    # Made without the gateway's file: it leaves the broker's files, its secret is kept.
    without = write_identities(tmp_path, plan_identities("ioc", DEVICES, [], ["alice", "bob"]))
    assert set(without.unplanned) == {"sgw-1", "vc-9"}  # not given this time
    assert "user sgw-1" not in without.acl_file.read_text()
    assert read_secrets(tmp_path)["sgw-1"] == secrets_before["sgw-1"]
