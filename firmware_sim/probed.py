"""The other side of `ioc probe`: gear that speaks only standard protocols.

- `RouterAgent`: a commune router's SNMP v2c agent (SNMPv2-MIB system group, IF-MIB for its
  WAN port `wan0`, ifIndex 1, with 64-bit octet counters), its WAN link driven by the same
  faults as the MQTT simulator's gateways (the `CommuneGateway` model), sending coldStart at
  start and after a reboot fault, and linkDown/linkUp when the link changes.
- `SipEndpoint`: a video-conference endpoint's SIP user agent answering OPTIONS over UDP with
  200 OK, silent while the gateway it sits behind has its link down.

pysnmp encodes and decodes the SNMP messages, aiosipua the SIP ones; both run on one asyncio
loop of a `ProbedGear` thread. Imports nothing from ioc.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from aiosipua import SipMessage, SipRequest, SipResponse
from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api

from firmware_sim.faults import Fault, FaultKind
from firmware_sim.physics import CommuneGateway

log = logging.getLogger("firmware_sim.probed")

_V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
SYS_DESCR, SYS_UPTIME, SYS_NAME = "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"
_IF_TABLE = "1.3.6.1.2.1.2.2.1"
_IF_X_TABLE = "1.3.6.1.2.1.31.1.1.1"
COLD_START, LINK_DOWN, LINK_UP = "1.3.6.1.6.3.1.1.5.1", "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"
_SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
_WAN = 1  # ifIndex of wan0
_MEAN_PACKET_BYTES = 600
_ERRORS_PER_DISCARD = 0.05  # most lost packets are dropped in queues, a few arrive corrupt


def _oid(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


@dataclass
class RouterSpec:
    """Where a simulated router's agent listens, and where it sends its traps."""

    device_id: str
    host: str
    port: int
    community: str
    trap_sink: tuple[str, int] | None = None
    faults: Sequence[Fault] = ()
    seed: int = 0


class RouterAgent(asyncio.DatagramProtocol):
    """One router's SNMP agent; `step` moves its model on by simulated seconds."""

    def __init__(self, spec: RouterSpec) -> None:
        self.spec = spec
        self.model = CommuneGateway(random.Random(spec.seed))
        self.wan_up = True
        self.in_octets = self.out_octets = 0.0
        self.in_discards = self.out_discards = self.in_errors = self.out_errors = 0.0
        self.requests = 0
        self.traps_sent = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._reboots_done: set[Fault] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        self._trap(COLD_START)

    def step(self, elapsed_s: float, dt_s: float) -> None:
        """The router after `dt_s` more simulated seconds, its faults as of `elapsed_s`."""
        faults = {f.kind for f in self.spec.faults if f.active(elapsed_s)}
        rebooting = {
            f for f in self.spec.faults if f.kind is FaultKind.REBOOT and f.active(elapsed_s)
        } - self._reboots_done
        self._reboots_done |= rebooting
        if not rebooting:
            faults.discard(FaultKind.REBOOT)  # a reboot happens once, at the fault's start
        outputs = self.model.step(elapsed_s, dt_s, faults)
        if rebooting:
            # Counters start again with the agent.
            self.in_octets = self.out_octets = 0.0
            self.in_discards = self.out_discards = self.in_errors = self.out_errors = 0.0
            self._trap(COLD_START)
        received = float(outputs.metrics["rx_bps"]) * dt_s / 8
        sent = float(outputs.metrics["tx_bps"]) * dt_s / 8
        self.in_octets += received
        self.out_octets += sent
        lost = float(outputs.metrics["loss_pct"]) / 100 / _MEAN_PACKET_BYTES
        self.in_discards += received * lost
        self.out_discards += sent * lost
        self.in_errors += received * lost * _ERRORS_PER_DISCARD
        self.out_errors += sent * lost * _ERRORS_PER_DISCARD
        if outputs.link_ok != self.wan_up:
            self.wan_up = outputs.link_ok
            self._trap(LINK_UP if self.wan_up else LINK_DOWN, link_state=True)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message, _rest = decoder.decode(data, asn1Spec=_V2C.Message())
        except (PyAsn1Error, TypeError, ValueError):
            return  # not SNMP v2c: a real agent drops it too
        if bytes(_V2C.apiMessage.get_community(message)).decode(errors="replace") != (
            self.spec.community
        ):
            return
        request = _V2C.apiMessage.get_pdu(message)
        getting_next = request.isSameTypeWith(_V2C.GetNextRequestPDU())
        if not (getting_next or request.isSameTypeWith(_V2C.GetRequestPDU())):
            return
        self.requests += 1
        response = _V2C.apiPDU.get_response(request)
        table = self._table()
        names = sorted(table)
        answers = []
        for name, _value in _V2C.apiPDU.get_varbinds(request):
            wanted = tuple(name)
            if getting_next:
                at = bisect.bisect_right(names, wanted)
                if at < len(names):
                    answers.append((names[at], table[names[at]]))
                else:
                    answers.append((wanted, _V2C.EndOfMibView()))
            else:
                answers.append((wanted, table.get(wanted, _V2C.NoSuchInstance())))
        _V2C.apiPDU.set_varbinds(response, answers)
        _V2C.apiMessage.set_pdu(message, response)
        if self._transport is not None:
            self._transport.sendto(encoder.encode(message), addr)

    def _table(self) -> dict[tuple[int, ...], Any]:
        oper = 1 if self.wan_up else 2
        rows = {
            SYS_DESCR: _V2C.OctetString("firmware_sim commune router"),
            SYS_UPTIME: _V2C.TimeTicks(self._ticks()),
            SYS_NAME: _V2C.OctetString(self.spec.device_id),
            f"{_IF_TABLE}.1.{_WAN}": _V2C.Integer(_WAN),
            f"{_IF_TABLE}.2.{_WAN}": _V2C.OctetString("wan0"),
            f"{_IF_TABLE}.7.{_WAN}": _V2C.Integer(1),  # ifAdminStatus up
            f"{_IF_TABLE}.8.{_WAN}": _V2C.Integer(oper),
            f"{_IF_TABLE}.13.{_WAN}": _V2C.Counter32(int(self.in_discards) % 2**32),
            f"{_IF_TABLE}.14.{_WAN}": _V2C.Counter32(int(self.in_errors) % 2**32),
            f"{_IF_TABLE}.19.{_WAN}": _V2C.Counter32(int(self.out_discards) % 2**32),
            f"{_IF_TABLE}.20.{_WAN}": _V2C.Counter32(int(self.out_errors) % 2**32),
            f"{_IF_X_TABLE}.1.{_WAN}": _V2C.OctetString("wan0"),
            f"{_IF_X_TABLE}.6.{_WAN}": _V2C.Counter64(int(self.in_octets) % 2**64),
            f"{_IF_X_TABLE}.10.{_WAN}": _V2C.Counter64(int(self.out_octets) % 2**64),
        }
        return {_oid(name): value for name, value in rows.items()}

    def _ticks(self) -> int:
        return int(self.model.uptime_s * 100) % 2**32

    def _trap(self, trap_oid: str, link_state: bool = False) -> None:
        if self.spec.trap_sink is None or self._transport is None:
            return
        pdu = _V2C.SNMPv2TrapPDU()
        _V2C.apiTrapPDU.set_defaults(pdu)
        var_binds: list[tuple[Any, Any]] = [
            (_V2C.ObjectIdentifier(SYS_UPTIME), _V2C.TimeTicks(self._ticks())),
            (_V2C.ObjectIdentifier(_SNMP_TRAP_OID), _V2C.ObjectIdentifier(trap_oid)),
        ]
        if link_state:  # IF-MIB's linkDown/linkUp carry ifIndex, ifAdminStatus, ifOperStatus
            var_binds += [
                (_V2C.ObjectIdentifier(f"{_IF_TABLE}.1.{_WAN}"), _V2C.Integer(_WAN)),
                (_V2C.ObjectIdentifier(f"{_IF_TABLE}.7.{_WAN}"), _V2C.Integer(1)),
                (_V2C.ObjectIdentifier(f"{_IF_TABLE}.8.{_WAN}"),
                 _V2C.Integer(1 if self.wan_up else 2)),
            ]  # fmt: skip
        _V2C.apiTrapPDU.set_varbinds(pdu, var_binds)
        message = _V2C.Message()
        _V2C.apiMessage.set_defaults(message)
        _V2C.apiMessage.set_community(message, self.spec.community)
        _V2C.apiMessage.set_pdu(message, pdu)
        self._transport.sendto(encoder.encode(message), self.spec.trap_sink)
        self.traps_sent += 1


@dataclass
class SipSpec:
    """Where a simulated endpoint's SIP user agent listens, and the gateway it sits behind."""

    device_id: str
    host: str
    port: int
    behind: str | None = None  # a RouterSpec's device id


class SipEndpoint(asyncio.DatagramProtocol):
    """Answers OPTIONS with 200 OK while `reachable()` says so."""

    def __init__(self, spec: SipSpec, reachable: Callable[[], bool]) -> None:
        self.spec = spec
        self.answered = 0
        self._reachable = reachable
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self._reachable() or self._transport is None:
            return
        try:
            request = SipMessage.parse(data)
        except (ValueError, IndexError):
            return
        if not isinstance(request, SipRequest) or request.method != "OPTIONS":
            return
        response = SipResponse(status_code=200, reason_phrase="OK")
        for header in ("Via", "From", "Call-ID", "CSeq"):
            for value in request.get_header_values(header):
                response.add_header(header, value)
        to = request.get_header("To") or f"<sip:{self.spec.host}>"
        response.set_header("To", f"{to};tag=sim{self.answered}" if "tag=" not in to else to)
        response.set_header("Allow", "INVITE, ACK, CANCEL, OPTIONS, BYE")
        response.set_header("User-Agent", "firmware_sim VC endpoint")
        self._transport.sendto(bytes(response), addr)
        self.answered += 1


@dataclass
class ProbedGear:
    """Routers and endpoints on one asyncio loop thread, stepped on the simulation's clock."""

    routers: Sequence[RouterSpec]
    endpoints: Sequence[SipSpec] = ()
    speed: float = 1.0
    step_s: float = 1.0  # wall seconds between model steps
    agents: dict[str, RouterAgent] = field(default_factory=dict)
    sip: dict[str, SipEndpoint] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._started = 0.0
        self._stepping: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Open every agent's and endpoint's socket (OSError if one cannot bind)."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="probed", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=10)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Close the sockets and the loop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        self._loop = self._thread = None

    def link_up(self, router_id: str) -> bool:
        """Whether a router's WAN link is up now."""
        agent = self.agents.get(router_id)
        return agent is None or agent.wan_up

    async def _open(self) -> None:
        self._started = time.monotonic()
        for spec in self.routers:
            agent = self.agents[spec.device_id] = RouterAgent(spec)
            await self._listen(agent, spec.host, spec.port)
        for sip_spec in self.endpoints:
            reachable = functools.partial(self._reachable_behind, sip_spec.behind)
            endpoint = self.sip[sip_spec.device_id] = SipEndpoint(sip_spec, reachable)
            await self._listen(endpoint, sip_spec.host, sip_spec.port)
        self._stepping = asyncio.create_task(self._step_forever())

    async def _listen(self, protocol: asyncio.DatagramProtocol, host: str, port: int) -> None:
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: protocol, local_addr=(host, port)
        )
        self._transports.append(transport)

    def _reachable_behind(self, router_id: str | None) -> bool:
        return router_id is None or self.link_up(router_id)

    async def _step_forever(self) -> None:
        last = 0.0
        while True:
            elapsed = (time.monotonic() - self._started) * self.speed
            for agent in self.agents.values():
                agent.step(elapsed, elapsed - last)
            last = elapsed
            await asyncio.sleep(self.step_s)

    async def _close(self) -> None:
        if self._stepping is not None:
            self._stepping.cancel()
        for transport in self._transports:
            transport.close()
        self._transports.clear()
