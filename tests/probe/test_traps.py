"""SNMP traps from real net-snmp senders in network namespaces: v1, v2c, informs and v3 authPriv
become the profile's events at once; wrong communities and keys, unknown senders, garbage,
oversize datagrams and notifications the profile does not name become dead letters with their
reason; the listener keeps going through all of it."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pyasn1.codec.ber import encoder
from pysnmp.proto.api import v2c

from ioc.broker import MosquittoProcess
from ioc.config import BrokerAddress
from ioc.domain import EdgeError, Inventory, Profile
from ioc.edge import EdgeOptions
from ioc.probe import (
    Probe,
    TrapListener,
    TrapSettings,
    bundled_probe_profiles_dir,
    load_probe_config,
)
from tests.support.mqtt import TopicFeed, wait_until
from tests.support.netns import NEEDS_ROOT, NetHost, net_hosts

pytestmark = NEEDS_ROOT
GATEWAY = "gw-QT-D01-C0001"
PROBE_ID = "probe-traps-1"
COMMUNITY = "ioc-test-traps"
ENGINE_ID, USER, AUTH, PRIV = "8000000001020304", "trapper", "auth-key-123", "priv-key-456"
TO = "<the trap port>"
LINK_DOWN, LINK_UP, COLD_START = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.6.3.1.1.5.1"


@dataclass
class Bench:
    """A probe listening for traps, a target host, a stranger host, and what reached MQTT."""

    probe: Probe
    listener: TrapListener
    target: NetHost
    stranger: NetHost
    feed: TopicFeed

    def send(self, host: NetHost, *args: str) -> None:
        """A net-snmp command (snmptrap, snmpinform...) from a host, TO the trap port."""
        to = f"{host.local}:{self.listener.port}"
        host.run(*(to if arg == TO else arg for arg in args))

    def send_bytes(self, host: NetHost, *payloads: bytes) -> None:
        """Raw datagrams from a host to the trap port, as fast as it can send them."""
        host.run(
            "python3", "-c",
            "import socket, sys\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "for payload in sys.argv[1:]:\n"
            f"    s.sendto(bytes.fromhex(payload), ('{host.local}', {self.listener.port}))\n",
            *(p.hex() for p in payloads),
        )  # fmt: skip

    def events(self, device_id: str, event_type: str) -> list[dict[str, object]]:
        return [
            e for e in self.feed.events
            if str(e["topic"]).split("/")[2] == device_id and e["type"] == event_type
        ]  # fmt: skip

    def rejected(self, reason: str) -> list[dict[str, object]]:
        found = [e["data"] for e in self.events(PROBE_ID, "trap_rejected")]
        return [d for d in found if d["reason"] == reason]  # type: ignore[index]


@pytest.fixture(scope="module")
def bench(
    tmp_path_factory: pytest.TempPathFactory, profiles: dict[str, Profile], inventory: Inventory
) -> Iterator[Bench]:
    directory = tmp_path_factory.mktemp("traps")
    broker = MosquittoProcess(directory / "mosquitto")
    broker.start()
    try:  # the broker stops even when a host cannot be made
        with net_hosts(2, first_index=28) as (target_host, stranger):
            path = directory / "probe.yaml"
            path.write_text(
                f"probe_id: {PROBE_ID}\n"
                "traps:\n"
                "  port: 0\n"
                f"  communities: [{COMMUNITY}]\n"
                f"  usm: [{{user: {USER}, auth_key: {AUTH}, priv_key: {PRIV},\n"
                f"         engine_id: '0x{ENGINE_ID}'}}]\n"
                "  max_bytes: 2000\n"
                "targets:\n"
                f"  - {{device: {GATEWAY}, address: {target_host.address},\n"
                "      profile: generic-router}\n",
                encoding="utf-8",
            )
            config = load_probe_config(path, profiles, inventory, bundled_probe_profiles_dir())
            assert config.traps is not None
            options = EdgeOptions(
                BrokerAddress("127.0.0.1", broker.port, PROBE_ID), "ioc", directory / "buffer.db"
            )
            probe = Probe(config, options)
            listener = probe.trap_listener
            assert listener is not None
            feed = TopicFeed(broker.port, "ioc/+/+/event", "trap-feed")
            probe.outbox.start()
            listener.start()
            try:
                yield Bench(probe, listener, target_host, stranger, feed)
            finally:
                listener.stop()
                probe.outbox.stop([])
                feed.stop()
    finally:
        broker.stop()


def test_a_v2c_link_down_is_an_event_of_the_device_within_a_second(bench: Bench) -> None:
    bench.send(
        bench.target, "snmptrap", "-v2c", "-c", COMMUNITY, TO,
        "", LINK_DOWN, "1.3.6.1.2.1.2.2.1.1.2", "i", "2",
    )  # fmt: skip
    sent = time.monotonic()
    wait_until(lambda: bench.events(GATEWAY, "link_down"), 5, "the link_down event")
    assert time.monotonic() - sent < 1.0
    [event] = bench.events(GATEWAY, "link_down")
    assert event["data"] == {
        "trap": LINK_DOWN,
        "source": bench.target.address,
        "var_binds": {"1.3.6.1.2.1.2.2.1.1.2": "2"},
    }


def test_v1_traps_informs_and_v3_authpriv_traps_are_events(bench: Bench) -> None:
    # SNMPv1 generic trap 0 is coldStart: the router rebooted.
    bench.send(bench.target, "snmptrap", "-v1", "-c", COMMUNITY, TO,
               "1.3.6.1.4.1.8072", bench.target.address, "0", "0", "")  # fmt: skip
    wait_until(lambda: bench.events(GATEWAY, "reboot"), 5, "the reboot event of a v1 trap")
    # An inform is answered, so snmpinform succeeds (run() raises if it exits non-zero).
    bench.send(bench.target, "snmpinform", "-v2c", "-c", COMMUNITY, "-t", "2", "-r", "0",
               TO, "", LINK_UP)  # fmt: skip
    wait_until(lambda: len(bench.events(GATEWAY, "link_up")) == 1, 5, "the inform's link_up")
    bench.send(
        bench.target, "snmptrap", "-v3", "-e", f"0x{ENGINE_ID}", "-u", USER, "-l", "authPriv",
        "-a", "SHA", "-A", AUTH, "-x", "AES", "-X", PRIV, TO, "", LINK_UP,
    )  # fmt: skip
    wait_until(lambda: len(bench.events(GATEWAY, "link_up")) == 2, 5, "the v3 link_up")


def test_what_is_refused_is_a_dead_letter_with_its_reason(bench: Bench) -> None:
    target, stranger = bench.target, bench.stranger
    before = bench.probe.health()["traps_rejected"]
    bench.send(target, "snmptrap", "-v2c", "-c", "guess", TO, "", LINK_DOWN)
    bench.send(stranger, "snmptrap", "-v2c", "-c", COMMUNITY, TO, "", LINK_DOWN)
    bench.send(
        target, "snmptrap", "-v3", "-e", f"0x{ENGINE_ID}", "-u", USER, "-l", "authPriv",
        "-a", "SHA", "-A", "not-the-key-1", "-x", "AES", "-X", PRIV, TO, "", LINK_UP,
    )  # fmt: skip
    bench.send(target, "snmptrap", "-v2c", "-c", COMMUNITY, TO, "", "1.3.6.1.4.1.99999.0.1")
    bench.send_bytes(target, b"not SNMP at all")
    bench.send_bytes(target, b"\x30\x82\xff\xff" + b"\x00" * 100)  # BER longer than the datagram
    bench.send_bytes(target, b"\x30" * 3000)  # over max_bytes
    with pytest.raises(RuntimeError, match="Timeout"):  # a trap port answers no GET
        target.run("snmpget", "-v2c", "-c", COMMUNITY, "-t", "0.3", "-r", "0",
                   f"{target.local}:{bench.listener.port}", "1.3.6.1.2.1.1.3.0")  # fmt: skip
    expected = {
        "wrong_community": "community b'guess' is not accepted",
        "unknown_source": f"{stranger.address} is not a target of this probe",
        "not_authenticated": "wrong SNMPv3 authentication key",
        "not_in_profile": "notification 1.3.6.1.4.1.99999.0.1 is not in profile 'generic-router'",
        "oversize": "3000 bytes, more than 2000",
        "not_a_notification": "GetRequestPDU on the trap port",
    }
    for reason, detail in expected.items():
        wait_until(lambda r=reason: bench.rejected(r), 5, f"a {reason} dead letter")  # type: ignore[misc]
        assert [d["detail"] for d in bench.rejected(reason)] == [detail]  # type: ignore[index]
    wait_until(lambda: len(bench.rejected("malformed")) == 2, 5, "two malformed dead letters")
    garbage = bench.rejected("malformed")[0]
    assert garbage["head_hex"] == b"not SNMP at all".hex()  # type: ignore[index]
    assert garbage["source"] == target.address and garbage["bytes"] == 15  # type: ignore[index]
    assert bench.probe.health()["traps_rejected"] - before == 8
    # Nothing of this stopped the listener: the next good trap is an event as ever.
    bench.send(target, "snmptrap", "-v2c", "-c", COMMUNITY, TO, "", COLD_START)
    wait_until(lambda: len(bench.events(GATEWAY, "reboot")) >= 2, 5, "a trap after the garbage")


def test_a_port_taken_is_a_clear_error(bench: Bench) -> None:
    settings = TrapSettings("0.0.0.0", bench.listener.port, ("x",), (), 8192)
    second = TrapListener(settings, [], lambda _t: None, lambda _r: None)
    taken = f"on udp 0.0.0.0:{bench.listener.port}: Address already in use$"
    with pytest.raises(EdgeError, match=f"cannot listen for SNMP traps {taken}"):
        second.start()


def test_every_datagram_is_an_event_or_a_dead_letter(bench: Bench) -> None:
    """Hundreds of mangled copies of a good trap (bytes flipped, cut short): each one is
    either delivered as an event or rejected with a reason, none is lost in between."""
    good = _v2c_trap(COMMUNITY, LINK_DOWN)
    shuffle = random.Random(13)
    mangled = []
    for _ in range(300):
        payload = bytearray(good)
        for _flip in range(shuffle.randint(1, 4)):
            payload[shuffle.randrange(len(payload))] = shuffle.randrange(256)
        mangled.append(bytes(payload[: shuffle.randint(1, len(payload))]))
    heard_before = bench.listener.counters["datagrams"]
    health_before = bench.probe.health()
    bench.send_bytes(bench.target, *mangled)
    wait_until(
        lambda: bench.listener.counters["datagrams"] - heard_before == 300, 10, "300 datagrams"
    )
    assert bench.listener.kernel_drops() == 0  # the socket's buffer holds a burst

    def accounted() -> int:
        health = bench.probe.health()  # a datagram is counted heard before it is judged
        return sum(health[k] - health_before[k] for k in ("traps", "traps_rejected"))

    wait_until(lambda: accounted() >= 300, 10, "every datagram judged")
    assert accounted() == 300
    health = bench.probe.health()
    assert health["traps_rejected"] > health_before["traps_rejected"]
    assert health["traps_unkept"] > 0  # a flood is counted, not all kept as events


def _v2c_trap(community: str, trap_oid: str) -> bytes:
    pdu = v2c.SNMPv2TrapPDU()
    v2c.apiTrapPDU.set_defaults(pdu)
    v2c.apiTrapPDU.set_varbinds(
        pdu,
        [
            (v2c.ObjectIdentifier("1.3.6.1.2.1.1.3.0"), v2c.TimeTicks(12345)),
            (v2c.ObjectIdentifier("1.3.6.1.6.3.1.1.4.1.0"), v2c.ObjectIdentifier(trap_oid)),
            (v2c.ObjectIdentifier("1.3.6.1.2.1.2.2.1.1.2"), v2c.Integer(2)),
        ],
    )
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    v2c.apiMessage.set_community(message, community)
    v2c.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))
