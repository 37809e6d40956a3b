"""SNMP polling (v2c and v3 authPriv) with pysnmp's asyncio API, on an event loop of its own.

Each round is one GET per target: sysUpTime (a reboot is uptime going back, and the agent's
counters start again), the profile's scalars, and the WAN interface's IF-MIB row, whose index
is found once by name or description (walked) and again when the agent restarts. A poll that
half-fails still reports what it got: a missing OID or a value of the wrong type is named and
counted, the rest of the reading is kept.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    get_cmd,
    usmAesCfb128Protocol,
    usmAesCfb256Protocol,
    usmDESPrivProtocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMAC384SHA512AuthProtocol,
    usmHMACMD5AuthProtocol,
    usmHMACSHAAuthProtocol,
    walk_cmd,
)
from pysnmp.proto.rfc1902 import Integer, ObjectIdentifier, OctetString, TimeTicks
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from ioc.probe._config import SnmpAccess, Target, Usm
from ioc.probe._loop import LoopThread
from ioc.probe._rates import COUNTER32, COUNTER64, CounterRates
from ioc.probe._schema import InterfaceStatistic, SnmpType

log = logging.getLogger("ioc.probe.snmp")

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
# Who an agent is, as discovery asks (SNMPv2-MIB system group, IF-MIB ifNumber).
IDENTITY = {
    "1.3.6.1.2.1.1.2.0": "sys_object_id",
    "1.3.6.1.2.1.1.5.0": "sys_name",
    "1.3.6.1.2.1.1.1.0": "sys_descr",
    "1.3.6.1.2.1.2.1.0": "interfaces",
}
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"
IF_IN_OCTETS, IF_OUT_OCTETS = "1.3.6.1.2.1.2.2.1.10", "1.3.6.1.2.1.2.2.1.16"
IF_IN_DISCARDS, IF_IN_ERRORS = "1.3.6.1.2.1.2.2.1.13", "1.3.6.1.2.1.2.2.1.14"
IF_OUT_DISCARDS, IF_OUT_ERRORS = "1.3.6.1.2.1.2.2.1.19", "1.3.6.1.2.1.2.2.1.20"


@dataclass(frozen=True, slots=True)
class _Counted:
    """Where a counted statistic is read: IF-MIB columns with their widths, the first one the
    agent has wins (the 64-bit octet counters, else the 32-bit ones of an agent without the
    ifXTable, such as a DrayTek Vigor2920), and the factor to its unit (octets to bits)."""

    columns: tuple[tuple[str, int], ...]
    factor: int = 1


_COUNTED = {
    InterfaceStatistic.IN_BPS: _Counted(
        ((IF_HC_IN_OCTETS, COUNTER64), (IF_IN_OCTETS, COUNTER32)), 8
    ),
    InterfaceStatistic.OUT_BPS: _Counted(
        ((IF_HC_OUT_OCTETS, COUNTER64), (IF_OUT_OCTETS, COUNTER32)), 8
    ),
    InterfaceStatistic.IN_ERRORS: _Counted(((IF_IN_ERRORS, COUNTER32),)),
    InterfaceStatistic.OUT_ERRORS: _Counted(((IF_OUT_ERRORS, COUNTER32),)),
    InterfaceStatistic.IN_DISCARDS: _Counted(((IF_IN_DISCARDS, COUNTER32),)),
    InterfaceStatistic.OUT_DISCARDS: _Counted(((IF_OUT_DISCARDS, COUNTER32),)),
}
_AUTH = {
    "md5": usmHMACMD5AuthProtocol,
    "sha": usmHMACSHAAuthProtocol,
    "sha256": usmHMAC192SHA256AuthProtocol,
    "sha512": usmHMAC384SHA512AuthProtocol,
}
_PRIV = {"des": usmDESPrivProtocol, "aes": usmAesCfb128Protocol, "aes256": usmAesCfb256Protocol}
# pysnmp's error indications that mean the credentials, not the network ("Wrong SNMP PDU
# digest", "Unknown USM user", "Decryption error"...), as they read in lower case.
_AUTH_FAILURES = ("digest", "unknown usm user", "decrypt", "authentication", "unsupported sec")


@dataclass(slots=True)
class SnmpOutcome:
    """What one poll of one target gave: metrics, and what went wrong (named)."""

    metrics: dict[str, object] = field(default_factory=dict)
    failure: str | None = None  # the whole poll: "timeout", "authentication: ...", ...
    problems: list[str] = field(default_factory=list)  # per value: a missing OID, a wrong type

    @property
    def answered(self) -> bool:
        """Whether the agent answered at all."""
        return self.failure is None


class SnmpPoller:
    """Polls targets concurrently (at most `concurrency` at once) on its own event loop."""

    def __init__(self, concurrency: int = 500) -> None:
        self.counters: Counter[str] = Counter()
        self.rates = CounterRates()
        self._concurrency = concurrency
        self._loop = LoopThread("snmp")
        self._engine: SnmpEngine | None = None
        self._if_index: dict[str, int] = {}
        self._uptime: dict[str, float] = {}

    def start(self) -> None:
        """Start the event loop on its thread."""
        self._loop.start()

    def close(self) -> None:
        """Close the agents' transports and the event loop."""
        self._loop.stop(self._close_engine() if self._engine is not None else None)

    async def _close_engine(self) -> None:
        assert self._engine is not None
        self._engine.close_dispatcher()
        self._engine = None

    def identify(
        self, addresses: Sequence[str], access: SnmpAccess
    ) -> Future[dict[str, tuple[dict[str, str], str | None]]]:
        """Ask each address's agent who it is (sysObjectID, sysName, sysDescr, ifNumber): by
        address, what it said as text and why it said nothing (None when it answered)."""
        return self._loop.submit(self._identify(addresses, access))

    async def _identify(
        self, addresses: Sequence[str], access: SnmpAccess
    ) -> dict[str, tuple[dict[str, str], str | None]]:
        if self._engine is None:
            self._engine = SnmpEngine()
        gate = asyncio.Semaphore(self._concurrency)
        auth = _auth(access)

        async def one(address: str) -> tuple[str, tuple[dict[str, str], str | None]]:
            async with gate:
                transport = await UdpTransportTarget.create(
                    (address, access.port), timeout=access.timeout_s, retries=access.retries
                )
                outcome = SnmpOutcome()
                values = await self._get(auth, transport, list(IDENTITY), outcome)
                said = {IDENTITY[oid]: _text(v) for oid, v in values.items() if not _absent(v)}
                return address, (said, outcome.failure)

        return dict(await asyncio.gather(*(one(a) for a in addresses)))

    def poll(self, targets: Sequence[Target], at_s: float) -> Future[dict[str, SnmpOutcome]]:
        """Start a round of polls; its outcomes, by device id, once they are all in."""
        return self._loop.submit(self._round(targets, at_s))

    async def _round(self, targets: Sequence[Target], at_s: float) -> dict[str, SnmpOutcome]:
        if self._engine is None:
            self._engine = SnmpEngine()  # made on the loop that uses it
        gate = asyncio.Semaphore(self._concurrency)

        async def one(target: Target) -> tuple[str, SnmpOutcome]:
            async with gate:
                return target.device_id, await self._poll(target, at_s)

        pairs = await asyncio.gather(*(one(t) for t in targets))
        return dict(pairs)

    async def _poll(self, target: Target, at_s: float) -> SnmpOutcome:
        assert target.snmp is not None and self._engine is not None
        outcome = SnmpOutcome()
        self.counters["polls"] += 1
        auth = _auth(target.snmp)
        transport = await UdpTransportTarget.create(
            (target.address, target.snmp.port),
            timeout=target.snmp.timeout_s,
            retries=target.snmp.retries,
        )
        index = await self._interface_index(target, auth, transport, outcome)
        if outcome.failure is not None:
            return outcome
        oids = [SYS_UPTIME, *(g.oid for g in target.profile.snmp_gets)]
        if index is not None:
            oids += [f"{column}.{index}" for column in _columns(target)]
        values = await self._get(auth, transport, oids, outcome)
        if outcome.failure is None:
            self._read(target, values, index, at_s, outcome)
        return outcome

    async def _get(
        self,
        auth: CommunityData | UsmUserData,
        transport: UdpTransportTarget,
        oids: list[str],
        outcome: SnmpOutcome,
    ) -> dict[str, object]:
        assert self._engine is not None
        indication, status, _index, var_binds = await get_cmd(
            self._engine, auth, transport, ContextData(),
            *(ObjectType(ObjectIdentity(oid)) for oid in oids),
        )  # fmt: skip
        if indication:
            outcome.failure = self._failure(str(indication))
            return {}
        if status:
            outcome.failure = f"agent error: {status.prettyPrint()}"
            self.counters["agent_errors"] += 1
            return {}
        return {str(name): value for name, value in var_binds}

    def _failure(self, indication: str) -> str:
        if any(kind in indication.lower() for kind in _AUTH_FAILURES):
            self.counters["auth_errors"] += 1
            return f"authentication: {indication}"
        if "timeout" in indication.lower():
            self.counters["timeouts"] += 1
            return "timeout (no answer: down, filtered, or a wrong community)"
        self.counters["other_errors"] += 1
        return indication

    async def _interface_index(
        self,
        target: Target,
        auth: CommunityData | UsmUserData,
        transport: UdpTransportTarget,
        outcome: SnmpOutcome,
    ) -> int | None:
        choice = target.interface
        if choice is None or not target.profile.interface:
            return None
        if choice.index is not None:
            return choice.index
        known = self._if_index.get(target.device_id)
        if known is not None:
            return known
        column, wanted = (
            (IF_NAME, choice.name) if choice.name is not None else (IF_DESCR, choice.descr)
        )
        assert self._engine is not None
        async for indication, status, _i, var_binds in walk_cmd(
            self._engine, auth, transport, ContextData(), ObjectType(ObjectIdentity(column)),
            lexicographicMode=False,
        ):  # fmt: skip
            if indication or status:
                outcome.failure = self._failure(str(indication or status.prettyPrint()))
                return None
            for name, value in var_binds:
                if isinstance(value, OctetString) and value.prettyPrint() == wanted:
                    found = int(str(name).rsplit(".", 1)[1])
                    self._if_index[target.device_id] = found
                    return found
        outcome.problems.append(f"no interface named {wanted!r}")
        self.counters["missing"] += 1
        return None

    def _read(
        self,
        target: Target,
        values: dict[str, object],
        index: int | None,
        at_s: float,
        outcome: SnmpOutcome,
    ) -> None:
        uptime = _number(values.get(SYS_UPTIME))
        restarted = False
        if uptime is not None:
            previous = self._uptime.get(target.device_id)
            restarted = previous is not None and uptime < previous
            self._uptime[target.device_id] = uptime
            if restarted:
                self.counters["agent_restarts"] += 1
                self._if_index.pop(target.device_id, None)  # indexes may move at a reboot
        for get in target.profile.snmp_gets:
            value = self._value(values.get(get.oid), get.type, get.oid, outcome, get.true_values)
            if value is None:
                continue
            if isinstance(value, float):
                value = round(value * get.scale + get.offset, 6)
            outcome.metrics[get.metric] = value
        if index is not None:
            self._interface(target, values, index, at_s, restarted, outcome)

    def _interface(
        self,
        target: Target,
        values: dict[str, object],
        index: int,
        at_s: float,
        restarted: bool,
        outcome: SnmpOutcome,
    ) -> None:
        row = {column: values.get(f"{column}.{index}") for column in _columns(target)}
        for metric, statistic in target.profile.interface:
            if statistic is InterfaceStatistic.OPER_UP:
                oper, admin = row[IF_OPER_STATUS], row[IF_ADMIN_STATUS]
                if _present(oper, f"{IF_OPER_STATUS}.{index}", outcome) and _present(
                    admin, f"{IF_ADMIN_STATUS}.{index}", outcome
                ):
                    outcome.metrics[metric] = int(oper) == 1 and int(admin) == 1  # type: ignore[call-overload]
                continue
            counted = _COUNTED[statistic]
            column, width = next(
                ((c, w) for c, w in counted.columns if not _absent(row[c])), counted.columns[0]
            )
            oid = f"{column}.{index}"
            count = self._value(row[column], SnmpType.NUMBER, oid, outcome)
            if count is None:
                continue
            backwards = self.rates.backwards
            key = (target.device_id, column)  # a counter of each width has its own history
            rate = self.rates.rate(key, int(count), at_s, restarted, width)
            if self.rates.backwards > backwards:
                outcome.problems.append(f"{oid}: went back without an agent restart: no rate")
            elif rate is not None:
                outcome.metrics[metric] = round(rate * counted.factor, 3)

    def _value(
        self,
        value: object,
        kind: SnmpType,
        oid: str,
        outcome: SnmpOutcome,
        true_values: frozenset[int] = frozenset(),
    ) -> float | str | bool | None:
        if not _present(value, oid, outcome):
            self.counters["missing"] += 1
            return None
        if kind is SnmpType.STRING and isinstance(value, OctetString):
            return str(value.prettyPrint())[:256]
        if kind is SnmpType.NUMBER_TEXT and isinstance(value, OctetString):
            text = bytes(value).decode("ascii", errors="replace").strip().rstrip("%")
            try:
                parsed = float(text)
            except ValueError:
                parsed = math.nan
            if math.isfinite(parsed):
                return parsed
        if kind is SnmpType.TIMETICKS and isinstance(value, TimeTicks):
            return int(value) / 100.0
        number = _number(value)
        if kind is SnmpType.NUMBER and number is not None and not isinstance(value, TimeTicks):
            return number
        if kind is SnmpType.FLAG and number is not None and not isinstance(value, TimeTicks):
            return int(number) in true_values
        outcome.problems.append(f"{oid}: {_shown(value)} is not a {kind}")
        self.counters["wrong_type"] += 1
        return None


def _columns(target: Target) -> list[str]:
    """The IF-MIB columns the target's profile reads."""
    columns: list[str] = []
    for _metric, statistic in target.profile.interface:
        if statistic is InterfaceStatistic.OPER_UP:
            columns += [IF_OPER_STATUS, IF_ADMIN_STATUS]
        else:
            columns += [column for column, _width in _COUNTED[statistic].columns]
    return list(dict.fromkeys(columns))


def _absent(value: object) -> bool:
    return value is None or isinstance(value, NoSuchObject | NoSuchInstance | EndOfMibView)


def _present(value: object, oid: str, outcome: SnmpOutcome) -> bool:
    if _absent(value):
        outcome.problems.append(f"{oid}: the agent has no such object")
        return False
    return True


def _text(value: object) -> str:
    """A value as text: an OID in numbers (not the name a loaded MIB gives it)."""
    if isinstance(value, ObjectIdentity):  # resolved through a MIB pysnmp found
        return str(value.get_oid())
    if isinstance(value, ObjectIdentifier):
        return str(value)
    return str(value.prettyPrint())[:256]  # type: ignore[attr-defined]


def _shown(value: object) -> str:
    """A value as a problem names it: its type, and what it held when it was text."""
    if isinstance(value, OctetString):
        return f"{type(value).__name__} {value.prettyPrint()[:40]!r}"
    return type(value).__name__


def _number(value: object) -> float | None:
    if isinstance(value, Integer | TimeTicks) or hasattr(value, "__int__"):
        try:
            return float(int(value))
        except (TypeError, ValueError):
            return None
    return None


def _auth(access: SnmpAccess) -> CommunityData | UsmUserData:
    if access.usm is None:
        return CommunityData(access.community, mpModel=1)
    usm = access.usm
    auth, priv = usm_protocols(usm)
    return UsmUserData(
        usm.user, authKey=usm.auth_key, privKey=usm.priv_key, authProtocol=auth, privProtocol=priv
    )


def usm_protocols(usm: Usm) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """pysnmp's identifiers of a user's authentication and privacy protocols."""
    return _AUTH[usm.auth_protocol], _PRIV[usm.priv_protocol]
