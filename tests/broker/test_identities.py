"""The identities `ioc identities make` writes, loaded by a real Mosquitto: who may connect and
what each may publish and read, tried as an attacker on the operations network would. MQTT 5
clients, so a refused publish comes back as a PUBACK reason code."""

from __future__ import annotations

import datetime
import gc
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from ioc.broker import (
    Identity,
    IdentityError,
    IdentityKind,
    MosquittoProcess,
    TlsFiles,
    free_port,
    plan_identities,
    read_secrets,
    revoke,
    wait_for_port,
    write_identities,
)
from ioc.broker._tls import LEAF_LIFETIME, write_tls
from tests.support.mqtt import ClientTls, MqttUser, wait_until

NOT_AUTHORIZED = (
    135  # MQTT 5 reason code of a refused CONNECT (Mosquitto 2.0 for a bad secret too) or PUBLISH
)


def accepted(reason: int) -> bool:
    """A PUBACK reason below 0x80 is a success (16: accepted, nobody subscribed)."""
    return reason < 0x80


DEVICES = [("bts", "bts-1"), ("bts", "bts-2"), ("netgw", "gw-1"), ("bts", "bts-behind")]
COLLECTORS = [("serialgw", "sgw-1", [("bts", "bts-behind")])]


@dataclass
class Locked:
    broker: MosquittoProcess
    directory: Path
    secrets: dict[str, str]
    users: list[MqttUser]
    tls_port: int
    tls: TlsFiles

    def user(self, name: str | None, secret: str | None = None) -> MqttUser:
        """A client on the plain listener, with this identity's secret unless told another."""
        given = secret if secret is not None or name is None else self.secrets[name]
        user = MqttUser(self.broker.port, name, given)
        self.users.append(user)
        return user

    def tls_user(
        self, name: str, tls: ClientTls | None = None, secret: str | None = None
    ) -> MqttUser:
        """A client on the TLS listener, with its own certificate unless given other TLS."""
        own = ClientTls(self.tls.ca_cert, self.tls.client_cert(name), self.tls.client_key(name))
        user = MqttUser(self.tls_port, name, secret or self.secrets[name], tls or own)
        self.users.append(user)
        return user


def _identities() -> list[Identity]:
    return plan_identities("ioc", DEVICES, COLLECTORS, ["alice", "bob"])


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Locked]:
    directory = tmp_path / "identities"
    made = write_identities(directory, _identities(), tls_hosts=["localhost", "127.0.0.1"])
    assert made.tls is not None
    tls_port = free_port()
    broker = MosquittoProcess(
        tmp_path / "mosquitto", extra_config=made.mosquitto_config(tls_port=tls_port)
    )
    broker.start()
    wait_for_port(tls_port, 10)
    bench = Locked(broker, directory, read_secrets(directory), [], tls_port, made.tls)
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


def test_a_service_reads_through_a_shared_subscription(locked: Locked) -> None:
    # A cluster's ingest nodes: members of one group, each message to one of them.
    nodes = [locked.user("ioc"), locked.user("ioc-ingest")]
    for node in nodes:
        node.subscribe("$share/ioc-ingest/ioc/+/+/+")
    device = locked.user("bts-1")
    for _ in range(4):
        assert accepted(device.publish("ioc/bts/bts-1/telemetry"))
    wait_until(lambda: sum(len(n.received) for n in nodes) == 4, 5, "every reading, once")
    assert all(n.received for n in nodes)  # shared between them
    # A device cannot listen in by joining the group.
    device.subscribe("$share/ioc-ingest/ioc/+/+/+")
    assert accepted(locked.user("bts-2").publish("ioc/bts/bts-2/telemetry"))
    wait_until(lambda: sum(len(n.received) for n in nodes) == 5, 5, "the next reading")
    assert not device.received


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


# paho leaks the socket of a failed TLS handshake (it never closes it); that is its bug.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_over_tls_an_identity_needs_a_certificate_from_the_ca_and_its_secret(
    locked: Locked, tmp_path: Path
) -> None:
    ingest = locked.tls_user("ioc-ingest")
    assert ingest.connack == 0
    ingest.subscribe("ioc/#")
    device = locked.tls_user("bts-1")
    assert device.connack == 0
    assert accepted(device.publish("ioc/bts/bts-1/telemetry"))
    assert device.publish("ioc/bts/bts-2/telemetry") == NOT_AUTHORIZED  # the same ACL
    wait_until(lambda: ingest.received, 5, "the reading over TLS")
    # Its certificate with a wrong secret: the password file still decides.
    assert locked.tls_user("bts-1", secret="not-its-secret").connack == NOT_AUTHORIZED
    # No client certificate at all, and one from another CA with the right secret.
    no_certificate = locked.tls_user("bts-2", ClientTls(locked.tls.ca_cert))
    other = write_identities(tmp_path / "other", _identities(), tls_hosts=["localhost"]).tls
    assert other is not None
    theirs = ClientTls(locked.tls.ca_cert, other.client_cert("bts-2"), other.client_key("bts-2"))
    foreign = locked.tls_user("bts-2", theirs)
    for refused in (no_certificate, foreign):
        assert refused.connack is None and refused.refused, refused.refused
    log = locked.broker.log_path.read_text(encoding="utf-8")
    assert log.count("certificate verify failed") >= 1, log[-2000:]
    # A client that trusts another CA does not talk to this broker at all.
    wary = locked.tls_user("bts-2", ClientTls(other.ca_cert, locked.tls.client_cert("bts-2"),
                                        locked.tls.client_key("bts-2")))  # fmt: skip
    assert wary.connack is None and wary.refused and "CERTIFICATE_VERIFY_FAILED" in wary.refused
    gc.collect()  # paho's leaked sockets, now, while this test's warning filter holds


def test_certificates_are_kept_renewed_and_removed(tmp_path: Path) -> None:
    first = write_identities(tmp_path, _identities(), tls_hosts=["mosquitto"])
    assert first.tls is not None and first.tls.issued == len(_identities())
    pem = first.tls.client_cert("bts-1").read_bytes()
    server = first.password_file.parent / "server.crt"
    server_pem = server.read_bytes()
    # Again, without --tls-host: the folder has its CA, so TLS stays; nothing is reissued.
    again = write_identities(tmp_path, _identities())
    assert again.tls is not None and again.tls.issued == 0 and again.tls.hosts == ("mosquitto",)
    assert again.tls.client_cert("bts-1").read_bytes() == pem
    assert server.read_bytes() == server_pem
    assert first.tls.client_key("bts-1").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tls" / "ca.key").stat().st_mode & 0o777 == 0o600
    # A new device gets one; a revoked one loses its files; new broker names, a new server
    # certificate (and the clients keep theirs).
    revoke(tmp_path, "bts-2")
    grown = plan_identities("ioc", [*DEVICES, ("vc", "vc-9")], COLLECTORS, ["alice", "bob"])
    renamed = write_identities(tmp_path, grown, tls_hosts=["mosquitto", "10.0.0.5"])
    assert renamed.tls is not None and renamed.tls.issued == 1
    assert renamed.tls.client_cert("vc-9").is_file()
    assert not renamed.tls.client_cert("bts-2").exists()
    assert not renamed.tls.client_key("bts-2").exists()
    assert renamed.tls.hosts == ("mosquitto", "10.0.0.5") and server.read_bytes() != server_pem
    assert renamed.tls.client_cert("bts-1").read_bytes() == pem
    names = x509.load_pem_x509_certificate(server.read_bytes()).extensions
    alternative = names.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alternative.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.5")]
    # Within a month of expiry, every run renews.
    expiring = datetime.datetime.now(datetime.UTC) + LEAF_LIFETIME - datetime.timedelta(days=20)
    renewed = write_tls(tmp_path, (), [i.name for i in grown if i.name != "bts-2"], expiring)
    assert renewed.issued == len(grown) - 1
    assert renewed.client_cert("bts-1").read_bytes() != pem


def test_the_broker_files_belong_to_the_broker(tmp_path: Path) -> None:
    made = write_identities(
        tmp_path, _identities(), tls_hosts=["mosquitto"], broker_owner="1883:1883"
    )
    broker_dir = made.password_file.parent
    files = [broker_dir, *broker_dir.iterdir()]
    assert {(p.name, p.stat().st_uid, p.stat().st_gid) for p in files} == {
        (p.name, 1883, 1883) for p in files
    }
    # Later runs keep the folder's owner for the files they rewrite.
    write_identities(tmp_path, [*_identities(), Identity("vc-9", IdentityKind.DEVICE, ())])
    assert made.password_file.stat().st_uid == 1883 and made.acl_file.stat().st_uid == 1883
    assert (tmp_path / "identities.csv").stat().st_uid == os.getuid()  # the rest stays private
    # A secret given to a container's user stays its user's when the file is written again.
    secret_file = tmp_path / "secrets" / "ioc"
    os.chown(secret_file, 10001, 10001)
    os.chown(tmp_path / "identities.csv", 10001, 10001)
    write_identities(tmp_path, [*_identities(), Identity("vc-10", IdentityKind.DEVICE, ())])
    assert (secret_file.stat().st_uid, secret_file.stat().st_mode & 0o777) == (10001, 0o600)
    assert (tmp_path / "identities.csv").stat().st_uid == 10001
    with pytest.raises(IdentityError, match=r"cannot give .* to 'no-such-user'"):
        write_identities(tmp_path, _identities(), broker_owner="no-such-user")
