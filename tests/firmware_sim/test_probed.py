"""The simulated router's SNMP agent and the endpoint's SIP user agent, asked by net-snmp's
tools and by the probe's own pollers: IF-MIB and uptime as a router answers them, traps on a
link fault and a reboot, a wrong community unanswered, OPTIONS answered until the gateway in
front goes down."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import closing

import pytest
from pyasn1.codec.ber import decoder
from pysnmp.proto import api

from firmware_sim import Fault, FaultKind
from firmware_sim.probed import (
    COLD_START,
    LINK_DOWN,
    LINK_UP,
    ProbedGear,
    RouterSpec,
    SipSpec,
)
from ioc.probe._config import ProbeProfile, SipAccess, Target
from ioc.probe._schema import SipStatistic
from ioc.probe._sip import SipPinger
from tests.support.mqtt import wait_until

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]


def _free_udp_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TrapSink:
    """A UDP socket the traps come to; decoded into their snmpTrapOID values."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.traps: list[str] = []

    def drain(self) -> list[str]:
        try:
            while True:
                data = self.sock.recv(65535)
                message, _ = decoder.decode(data, asn1Spec=V2C.Message())
                binds = dict(V2C.apiPDU.get_varbinds(V2C.apiMessage.get_pdu(message)))
                self.traps.append(
                    str(binds[V2C.ObjectIdentifier("1.3.6.1.6.3.1.1.4.1.0")].prettyPrint())
                )
        except TimeoutError:
            return self.traps


@pytest.fixture
def sink() -> Iterator[TrapSink]:
    trap_sink = TrapSink()
    yield trap_sink
    trap_sink.sock.close()


def _snmpget(port: int, *oids: str, community: str = "public") -> list[str]:
    done = subprocess.run(
        ["snmpget", "-v2c", "-c", community, "-t", "0.5", "-r", "0", "-Oqv",
         f"127.0.0.1:{port}", *oids],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.split("\n")[:-1] if done.returncode == 0 else [done.stderr.strip()]


def test_the_router_answers_if_mib_and_traps_its_link_faults(sink: TrapSink) -> None:
    port = _free_udp_port()
    faults = [
        Fault(FaultKind.LINK_DOWN, "gw1", at_s=2.0, duration_s=2.0),
        Fault(FaultKind.REBOOT, "gw1", at_s=6.0, duration_s=1.0),
    ]
    gear = ProbedGear(
        [RouterSpec("gw1", "127.0.0.1", port, "public", ("127.0.0.1", sink.port), faults, 7)],
        speed=4.0,
        step_s=0.1,
    )
    gear.start()
    try:
        name, oper, admin = _snmpget(
            port, "1.3.6.1.2.1.31.1.1.1.1.1", "1.3.6.1.2.1.2.2.1.8.1", "1.3.6.1.2.1.2.2.1.7.1"
        )
        assert (name, oper, admin) == ('"wan0"', "1", "1")  # up(1), up(1)
        walked = subprocess.run(
            ["snmpwalk", "-v2c", "-c", "public", "-On", f"127.0.0.1:{port}", "1.3.6.1.2.1.2.2"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert '.1.3.6.1.2.1.2.2.1.2.1 = STRING: "wan0"' in walked  # ifDescr, by GETNEXT
        assert "Timeout" in _snmpget(port, "1.3.6.1.2.1.1.3.0", community="guess")[0]
        wait_until(lambda: sink.drain()[-1:] == [LINK_DOWN], 5, "linkDown at +2 s (sim)")
        assert _snmpget(port, "1.3.6.1.2.1.2.2.1.8.1") == ["2"]  # down(2)
        wait_until(lambda: sink.drain()[-1:] == [LINK_UP], 5, "linkUp at +4 s (sim)")
        uptime_before = gear.agents["gw1"].model.uptime_s
        wait_until(lambda: sink.drain()[-1:] == [COLD_START], 5, "coldStart of the reboot")
        assert gear.agents["gw1"].model.uptime_s < uptime_before
        assert sink.drain() == [COLD_START, LINK_DOWN, LINK_UP, COLD_START]  # one each
        [first] = _snmpget(port, "1.3.6.1.2.1.31.1.1.1.6.1")  # ifHCInOctets: traffic flows
        wait_until(
            lambda: int(_snmpget(port, "1.3.6.1.2.1.31.1.1.1.6.1")[0]) > int(first), 5, "more in"
        )
        # Discards and errors in and out, as the probe's if-mib-router set asks for them.
        counters = _snmpget(port, *(f"1.3.6.1.2.1.2.2.1.{column}.1" for column in (13, 14, 19, 20)))
        assert all(value.isdigit() for value in counters), counters
        in_discards = "1.3.6.1.2.1.2.2.1.13.1"  # a link losing ~0.1 % drops some on the way in
        wait_until(lambda: int(_snmpget(port, in_discards)[0]) > 0, 5, "discards counted")
    finally:
        gear.stop()


def test_the_endpoint_answers_options_until_its_gateway_is_cut() -> None:
    router_port, sip_port = _free_udp_port(), _free_udp_port()
    gear = ProbedGear(
        [RouterSpec("gw1", "127.0.0.1", router_port, "public",
                    faults=[Fault(FaultKind.LINK_DOWN, "gw1", at_s=4.0)])],
        [SipSpec("vc1", "127.0.0.1", sip_port, behind="gw1")],
        speed=4.0,
        step_s=0.1,
    )  # fmt: skip
    pinger = SipPinger()
    profile = ProbeProfile("sip-only", "vc", (), sip=(("sip_ok", SipStatistic.REACHABLE),))
    target = Target("vc1", "vc", "127.0.0.1", profile, sip=SipAccess("udp", sip_port, 0.5))
    gear.start()
    pinger.start()
    try:
        first = pinger.ping([target]).result(timeout=10)["vc1"]
        assert first.status == 200
        wait_until(lambda: not gear.link_up("gw1"), 5, "the gateway's link down")
        silent = pinger.ping([target]).result(timeout=10)["vc1"]
        assert silent.failure == "timeout (no SIP answer)"
    finally:
        pinger.close()
        gear.stop()
