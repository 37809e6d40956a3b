"""SNMP notifications (traps and informs, v1, v2c and v3 authPriv) on a UDP port.

pysnmp's engine does the protocol (BER, communities, USM keys and engine ids, the response to
an inform), on an event loop of its own. In front of it sits our own datagram check, because the
engine drops what it refuses without a word (and some garbage makes its decoder raise): every
datagram is delivered or rejected with a reason, never lost in between. Oversize datagrams and
datagrams from addresses that are not targets are refused before any decoding.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto import api
from pysnmp.proto.rfc1902 import OctetString

from ioc.domain import EdgeError
from ioc.probe._config import TrapSettings
from ioc.probe._loop import LoopThread
from ioc.probe._snmp import usm_protocols

log = logging.getLogger("ioc.probe.traps")

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
# What pyasn1 and pysnmp raise on garbage (not only PyAsn1Error: some inputs reach a TypeError).
_DECODE_ERRORS = (PyAsn1Error, TypeError, ValueError, IndexError, KeyError, AttributeError)
_MAX_VAR_BINDS = 16
# A district's fibre cut sends hundreds of link traps at once; the default socket buffer holds
# about 250 small datagrams. Root may force a bigger one, others get what net.core.rmem_max allows.
RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024
_SO_RCVBUFFORCE = 33  # Linux's; Python's socket module does not name it
_MAX_VALUE_CHARS = 128
# USM's own counters (RFC 3414) say why an SNMPv3 message was refused.
_USM_STATS = {
    "usmStatsUnknownUserNames": "unknown SNMPv3 user (or unknown engine id for it)",
    "usmStatsUnknownEngineIDs": "unknown SNMPv3 engine id",
    "usmStatsWrongDigests": "wrong SNMPv3 authentication key",
    "usmStatsDecryptionErrors": "wrong SNMPv3 privacy key",
    "usmStatsNotInTimeWindows": "SNMPv3 message outside the time window",
    "usmStatsUnsupportedSecLevels": "SNMPv3 security level below authPriv",
}


class Rejection(StrEnum):
    """Why a datagram on the trap port became a dead letter."""

    OVERSIZE = "oversize"
    UNKNOWN_SOURCE = "unknown_source"
    MALFORMED = "malformed"
    WRONG_COMMUNITY = "wrong_community"
    NOT_AUTHENTICATED = "not_authenticated"
    NOT_A_NOTIFICATION = "not_a_notification"
    NOT_IN_PROFILE = "not_in_profile"


@dataclass(frozen=True, slots=True)
class Trap:
    """A notification the engine accepted: where from, which, and what it carried."""

    source: str
    trap_oid: str
    var_binds: tuple[tuple[str, str], ...]  # without sysUpTime and snmpTrapOID; cut short


@dataclass(frozen=True, slots=True)
class RejectedDatagram:
    """A datagram kept as a dead letter: its sender, the reason, and its first bytes."""

    source: str
    port: int
    reason: Rejection
    detail: str
    size: int
    head: bytes  # the first 256 bytes


class TrapListener:
    """Listens on the configured UDP port; `on_trap` and `on_rejected` run on its thread."""

    name = "trap listener"
    failure: BaseException | None = None

    def __init__(
        self,
        settings: TrapSettings,
        sources: Iterable[str],
        on_trap: Callable[[Trap], None],
        on_rejected: Callable[[RejectedDatagram], None],
    ) -> None:
        self.settings = settings
        self.counters: Counter[str] = Counter()
        self.port = settings.port  # the bound port once started (settings may say 0)
        self._sources = frozenset(str(ipaddress.ip_address(s)) for s in sources)
        self._communities = frozenset(settings.communities)
        self._on_trap, self._on_rejected = on_trap, on_rejected
        self._loop = LoopThread("traps")
        self._engine: engine.SnmpEngine | None = None
        self._delivered = False
        self._socket_inode: int | None = None

    def admit(self, sources: Iterable[str]) -> None:
        """Take traps from these addresses from now on (the probe's targets changed)."""
        self._sources = frozenset(str(ipaddress.ip_address(s)) for s in sources)

    def kernel_drops(self) -> int:
        """Datagrams the kernel dropped because the socket's buffer was full (Linux)."""
        if self._socket_inode is None:
            return 0
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            try:
                lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) >= 13 and fields[9] == str(self._socket_inode):
                    return int(fields[12])
        return 0

    def start(self) -> None:
        """Bind the port (EdgeError says why not) and listen on a thread of its own."""
        self._loop.start()
        try:
            self._loop.submit(self._open()).result(timeout=10)
        except OSError as exc:
            self.stop()
            where = f"udp {self.settings.host}:{self.settings.port}"
            hint = (
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE: choose traps.port above "
                "1023 and forward 162 to it, or grant the capability)"
                if exc.errno == errno.EACCES
                else ""
            )
            message = f"cannot listen for SNMP traps on {where}: {exc.strerror}{hint}"
            raise EdgeError(message) from None
        log.info("listening for SNMP traps on udp %s:%d", self.settings.host, self.port)

    def stop(self) -> None:
        """Close the port and the loop."""
        self._loop.stop(self._close() if self._engine is not None else None)

    async def _open(self) -> None:
        host, v6 = self.settings.host, ipaddress.ip_address(self.settings.host).version == 6
        # Bound here rather than by pysnmp, so a refused port is a plain OSError at start.
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((host, self.settings.port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        _grow_receive_buffer(sock)
        self.port = sock.getsockname()[1]
        self._socket_inode = os.fstat(sock.fileno()).st_ino
        snmp_engine = engine.SnmpEngine()
        transport = (_Guarded6 if v6 else _Guarded)(self).open_server_mode(sock=sock)
        config.add_transport(snmp_engine, udp6.DOMAIN_NAME if v6 else udp.DOMAIN_NAME, transport)
        for index, community in enumerate(self.settings.communities):
            config.add_v1_system(snmp_engine, f"community-{index}", community)
        for user in self.settings.users:
            auth, priv = usm_protocols(user.usm)
            config.add_v3_user(
                snmp_engine, user.usm.user, auth, user.usm.auth_key, priv, user.usm.priv_key,
                securityEngineId=OctetString(hexValue=user.engine_id),
            )  # fmt: skip
        ntfrcv.NotificationReceiver(snmp_engine, self._notification)
        self._engine = snmp_engine

    async def _close(self) -> None:
        assert self._engine is not None
        self._engine.close_dispatcher()
        self._engine = None

    def received(self, transport: Any, address: tuple[Any, ...], datagram: bytes) -> None:
        """One datagram on the port: delivered to the engine, or rejected with a reason."""
        self.counters["datagrams"] += 1
        source, port = str(ipaddress.ip_address(address[0].split("%")[0])), int(address[1])
        if len(datagram) > self.settings.max_bytes:
            detail = f"{len(datagram)} bytes, more than {self.settings.max_bytes}"
            return self._reject(source, port, Rejection.OVERSIZE, detail, datagram)
        if source not in self._sources:
            detail = f"{source} is not a target of this probe"
            return self._reject(source, port, Rejection.UNKNOWN_SOURCE, detail, datagram)
        usm_before = self._usm_stats()
        self._delivered = False
        try:
            transport._callback_function(transport, address, datagram)
        except _DECODE_ERRORS as exc:  # the engine's decoder raises on some garbage
            log.debug("the SNMP engine raised on a datagram from %s: %r", source, exc)
        if not self._delivered:
            reason, detail = self._why_refused(datagram, usm_before)
            self._reject(source, port, reason, detail, datagram)

    def _notification(
        self,
        snmp_engine: engine.SnmpEngine,
        state_reference: Any,
        context_engine_id: Any,
        context_name: Any,
        var_binds: Any,
        context: Any,
    ) -> None:
        self._delivered = True
        _domain, address = snmp_engine.message_dispatcher.get_transport_info(state_reference)
        values = {str(name): value for name, value in var_binds}
        trap_oid = values.pop(SNMP_TRAP_OID, None)
        if trap_oid is None:
            source = str(ipaddress.ip_address(address[0].split("%")[0]))
            detail = "a notification without snmpTrapOID"
            self._reject(source, int(address[1]), Rejection.MALFORMED, detail, b"")
            return
        values.pop(SYS_UPTIME, None)
        kept = tuple(
            (oid, value.prettyPrint()[:_MAX_VALUE_CHARS])
            for oid, value in list(values.items())[:_MAX_VAR_BINDS]
        )
        self.counters["traps"] += 1
        source = str(ipaddress.ip_address(address[0].split("%")[0]))
        self._on_trap(Trap(source, str(trap_oid.prettyPrint()), kept))

    def _why_refused(self, datagram: bytes, usm_before: dict[str, int]) -> tuple[Rejection, str]:
        try:
            version = int(api.decodeMessageVersion(datagram))
        except _DECODE_ERRORS:  # pysnmp's ProtocolError is a PyAsn1Error
            return Rejection.MALFORMED, "not an SNMP message"
        if version == 3:
            grown = [
                why for name, why in _USM_STATS.items()
                if self._usm_stats().get(name, 0) > usm_before.get(name, 0)
            ]  # fmt: skip
            detail = grown[0] if grown else "SNMPv3 message refused"
            return Rejection.NOT_AUTHENTICATED, detail
        module = api.PROTOCOL_MODULES.get(version)
        if module is None:
            return Rejection.MALFORMED, f"unknown SNMP version {version}"
        try:
            message, _rest = decoder.decode(datagram, asn1Spec=module.Message())
            community = bytes(module.apiMessage.get_community(message))
            pdu = module.apiMessage.get_pdu(message)
        except _DECODE_ERRORS as exc:
            return Rejection.MALFORMED, f"undecodable SNMP message: {str(exc)[:200]}"
        if community.decode(errors="replace") not in self._communities:
            return Rejection.WRONG_COMMUNITY, f"community {community[:32]!r} is not accepted"
        return Rejection.NOT_A_NOTIFICATION, f"{pdu.__class__.__name__} on the trap port"

    def _usm_stats(self) -> dict[str, int]:
        if self._engine is None:
            return {}
        builder = self._engine.get_mib_builder()
        names = list(_USM_STATS)
        found = builder.import_symbols("__SNMP-USER-BASED-SM-MIB", *names)
        return {name: int(symbol.syntax) for name, symbol in zip(names, found, strict=True)}

    def _reject(
        self, source: str, port: int, reason: Rejection, detail: str, datagram: bytes
    ) -> None:
        self.counters[f"rejected_{reason}"] += 1
        self.counters["rejected"] += 1
        self._on_rejected(
            RejectedDatagram(source, port, reason, detail, len(datagram), datagram[:256])
        )


def _grow_receive_buffer(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES)
    except OSError:  # not root: as much as rmem_max allows
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if granted < RECEIVE_BUFFER_BYTES:
        log.warning(
            "the trap socket's receive buffer is %d bytes (net.core.rmem_max); a burst of "
            "traps beyond it is dropped by the kernel and counted as trap_drops",
            granted,
        )


class _Guard:
    """In front of pysnmp's UDP transport: the listener sees each datagram first."""

    def __init__(self, listener: TrapListener) -> None:
        super().__init__()
        self._listener = listener

    def datagram_received(self, datagram: bytes, transportAddress: Any) -> None:
        self._listener.received(self, transportAddress, datagram)


class _Guarded(_Guard, udp.UdpAsyncioTransport):  # type: ignore[misc]
    pass


class _Guarded6(_Guard, udp6.Udp6AsyncioTransport):  # type: ignore[misc]
    pass
