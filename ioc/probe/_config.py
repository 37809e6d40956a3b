"""The probe file and the probe profiles it names, checked strictly and against the inventory.

A probe profile is data, like a Modbus register map: which profile metric each measurement
feeds. The probe file lists targets by inventory device id with their address, and the checks'
defaults.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc.config.documents import Duration, read_model
from ioc.domain import DEVICE_ID_PATTERN, BadFileError, Inventory, MetricType, Profile
from ioc.edge import BufferSection

PROBE_CLASS = "probe"


class ProbeConfigError(BadFileError):
    """The probe file or a profile it names is wrong; each line names the file and the entry."""


class IcmpStatistic(StrEnum):
    """What a round of echo requests to one target yields."""

    AVG = "avg"  # mean round-trip time of the answered requests, ms
    MIN = "min"
    MAX = "max"
    JITTER = "jitter"  # mean difference between consecutive round-trip times, ms
    LOSS = "loss"  # requests not answered in time, %


_UNIT = {statistic: "ms" for statistic in IcmpStatistic} | {IcmpStatistic.LOSS: "%"}


class SnmpType(StrEnum):
    """How a polled value becomes a metric."""

    NUMBER = "number"  # INTEGER, Gauge32, Unsigned32 (then scale and offset)
    NUMBER_TEXT = "number_text"  # a number written as a string ("1.5"), as some MIBs do
    TIMETICKS = "timeticks"  # hundredths of a second, published in seconds
    STRING = "string"
    FLAG = "flag"  # an enumeration or count, true when it is one of `true_values`


class InterfaceStatistic(StrEnum):
    """What the probe reads of the target's WAN interface row (IF-MIB)."""

    OPER_UP = "oper_up"  # ifOperStatus up(1) while ifAdminStatus is up(1)
    IN_BPS = "in_bps"  # ifHCInOctets as a rate, bit/s
    OUT_BPS = "out_bps"  # ifHCOutOctets as a rate, bit/s
    IN_ERRORS = "in_errors"  # ifInErrors as a rate, per second
    OUT_ERRORS = "out_errors"  # ifOutErrors
    IN_DISCARDS = "in_discards"  # ifInDiscards
    OUT_DISCARDS = "out_discards"  # ifOutDiscards


class SipStatistic(StrEnum):
    """What an OPTIONS request to a target yields."""

    REACHABLE = "reachable"  # a final response came (any code): the SIP stack is up
    RESPONSE_MS = "response_ms"  # time to the final response, ms
    STATUS = "status"  # the final response's code (200, 403, 404...)


_SIP_METRIC = {
    SipStatistic.REACHABLE: (MetricType.BOOL, ""),
    SipStatistic.RESPONSE_MS: (MetricType.NUMBER, "ms"),
    SipStatistic.STATUS: (MetricType.NUMBER, ""),
}

_OID = r"^1(\.\d+)+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SnmpGetModel(_Strict):
    oid: str = Field(pattern=_OID)
    type: SnmpType = SnmpType.NUMBER
    scale: float = 1.0
    offset: float = 0.0
    true_values: list[int] = []  # flag: the values that mean true

    @model_validator(mode="after")
    def _flag(self) -> _SnmpGetModel:
        if (self.type is SnmpType.FLAG) != bool(self.true_values):
            raise ValueError("true_values go with type flag, and a flag needs them")
        return self


class _TrapStateModel(_Strict):
    set: str = Field(pattern=_OID)  # the notification that makes the metric true
    clear: str = Field(pattern=_OID)  # ...and the one that makes it false


class _SnmpProfileModel(_Strict):
    get: dict[str, _SnmpGetModel] = {}
    interface: dict[str, InterfaceStatistic] = {}


class _ProfileModel(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    class_: str = Field(alias="class", min_length=1)
    description: str = ""
    icmp: dict[str, IcmpStatistic] = {}  # (always pinged: an answer is the device heard)
    snmp: _SnmpProfileModel | None = None
    traps: dict[str, str] = {}  # notification OID (snmpTrapOID) -> event of the class
    sip: dict[str, SipStatistic] = {}  # metric -> what the OPTIONS request gave
    trap_states: dict[str, _TrapStateModel] = {}  # bool metric -> the traps that set/clear it

    @field_validator("traps")
    @classmethod
    def _trap_oids(cls, traps: dict[str, str]) -> dict[str, str]:
        bad = [oid for oid in traps if not re.fullmatch(_OID, oid)]
        if bad:
            raise ValueError(f"not an OID (give it numeric): {', '.join(bad)}")
        return traps


class _IcmpModel(_Strict):
    packets: int = Field(default=5, ge=1, le=100)
    round: Duration = 10.0
    timeout: Duration = 2.0
    concurrency: int = Field(default=2000, ge=1, le=100_000)
    privileged: bool | None = None  # None: unprivileged sockets where allowed, else raw

    @model_validator(mode="after")
    def _fits(self) -> _IcmpModel:
        if not 1 <= self.round <= 3600:
            raise ValueError("round must be between 1s and 1h")
        if not 0.05 <= self.timeout <= 30:
            raise ValueError("timeout must be between 50ms and 30s")
        if self.timeout > self.round:
            raise ValueError("timeout must not be longer than the round")
        return self


class _UsmModel(_Strict):
    user: str = Field(min_length=1, max_length=32)
    auth_protocol: Literal["md5", "sha", "sha256", "sha512"] = "sha"
    auth_key: str = Field(min_length=8)
    priv_protocol: Literal["des", "aes", "aes256"] = "aes"
    priv_key: str = Field(min_length=8)


class _SnmpAccessModel(_Strict):
    version: Literal["2c", "3"] = "2c"
    community: str | None = Field(default=None, min_length=1)
    usm: _UsmModel | None = None  # SNMPv3 authPriv
    port: int = Field(default=161, ge=1, le=65535)
    timeout: Duration = 1.0
    retries: int = Field(default=1, ge=0, le=5)

    @model_validator(mode="after")
    def _credentials(self) -> _SnmpAccessModel:
        if self.version == "2c" and (self.community is None or self.usm is not None):
            raise ValueError("SNMP v2c takes a community (and no usm)")
        if self.version == "3" and (self.usm is None or self.community is not None):
            raise ValueError("SNMP v3 takes usm: user, auth and priv keys (and no community)")
        if not 0.05 <= self.timeout <= 30:
            raise ValueError("timeout must be between 50ms and 30s")
        return self


class _TrapUserModel(_UsmModel):
    engine_id: str  # the sending agent's snmpEngineID, hex

    @field_validator("engine_id", mode="before")
    @classmethod
    def _quoted(cls, engine_id: object) -> object:
        if isinstance(engine_id, int):
            raise ValueError("quote it ('0x8000...'): unquoted, YAML reads it as a number")
        return engine_id

    @field_validator("engine_id")
    @classmethod
    def _hex(cls, engine_id: str) -> str:
        if not re.fullmatch(r"(0x)?([0-9a-fA-F]{2}){5,32}", engine_id):
            raise ValueError(
                f"{engine_id!r} is not an engine id: 5 to 32 octets in hex, e.g. 0x8000000001020304"
            )
        return engine_id.removeprefix("0x")


class _TrapsModel(_Strict):
    listen: str = "0.0.0.0"
    port: int = Field(default=162, ge=0, le=65535)  # 0: any free port (tests)
    communities: list[str] = []  # SNMPv1 and v2c
    usm: list[_TrapUserModel] = []  # SNMPv3 authPriv, one per sending engine
    max_bytes: int = Field(default=8192, ge=484, le=65507)

    @model_validator(mode="after")
    def _someone(self) -> _TrapsModel:
        try:
            ipaddress.ip_address(self.listen)
        except ValueError:
            raise ValueError(f"listen: {self.listen!r} is not an IPv4 or IPv6 address") from None
        if not self.communities and not self.usm:
            raise ValueError("accept traps from someone: give communities or usm users")
        if any(not c for c in self.communities):
            raise ValueError("communities: an empty community")
        return self


class _SipAccessModel(_Strict):
    transport: Literal["udp", "tcp"] = "udp"
    port: int = Field(default=5060, ge=1, le=65535)
    timeout: Duration = 2.0

    @model_validator(mode="after")
    def _fits(self) -> _SipAccessModel:
        if not 0.1 <= self.timeout <= 30:
            raise ValueError("timeout must be between 100ms and 30s")
        return self


class _InterfaceChoiceModel(_Strict):
    name: str | None = None  # ifName
    descr: str | None = None  # ifDescr
    index: int | None = Field(default=None, ge=1)  # ifIndex

    @model_validator(mode="after")
    def _one(self) -> _InterfaceChoiceModel:
        if sum(v is not None for v in (self.name, self.descr, self.index)) != 1:
            raise ValueError("choose the interface by exactly one of name, descr or index")
        return self


class _TargetModel(_Strict):
    device: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    address: str
    profile: str | None = None
    snmp: _SnmpAccessModel | None = None  # overrides the file's snmp defaults
    interface: _InterfaceChoiceModel | None = None
    sip: _SipAccessModel | None = None  # overrides the file's sip defaults

    @model_validator(mode="after")
    def _an_address(self) -> _TargetModel:
        try:
            address = ipaddress.ip_address(self.address)
        except ValueError:
            raise ValueError(f"{self.address!r} is not an IPv4 or IPv6 address") from None
        # Pinged or polled, these answer for no one device (or for this host): a blank cell.
        if address.is_unspecified:
            why = "it means any address, or this host"
        elif address == ipaddress.IPv4Address("255.255.255.255"):
            why = "it is the broadcast address"
        elif address.is_multicast:
            why = "it is a multicast group"
        else:
            return self
        raise ValueError(f"{address} is no device's address ({why})")


class _ProbeModel(_Strict):
    probe_id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    report_interval: Duration = 60.0
    profiles_dir: Path | None = None
    buffer: BufferSection = BufferSection()
    icmp: _IcmpModel = _IcmpModel()
    snmp: _SnmpAccessModel | None = None  # for every target whose profile polls SNMP
    traps: _TrapsModel | None = None  # no listener without it
    sip: _SipAccessModel = _SipAccessModel()  # for every target whose profile asks SIP
    defaults: dict[str, str] = {}  # device class -> profile name
    targets: list[_TargetModel] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> _ProbeModel:
        for what, values in (
            ("device", [t.device for t in self.targets] + [self.probe_id]),
            ("address", [str(ipaddress.ip_address(t.address)) for t in self.targets]),
        ):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"each {what} may be listed once: {', '.join(repeated)}")
        return self


@dataclass(frozen=True, slots=True)
class SnmpGet:
    """One scalar polled each round and the metric it feeds."""

    metric: str
    oid: str
    type: SnmpType
    scale: float
    offset: float
    true_values: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class ProbeProfile:
    """How one kind of equipment is watched: which metric each measurement feeds."""

    name: str
    device_class: str
    icmp: tuple[tuple[str, IcmpStatistic], ...]
    snmp_gets: tuple[SnmpGet, ...] = ()
    interface: tuple[tuple[str, InterfaceStatistic], ...] = ()
    traps: tuple[tuple[str, str], ...] = ()  # notification OID -> event
    sip: tuple[tuple[str, SipStatistic], ...] = ()
    trap_states: tuple[tuple[str, str, bool], ...] = ()  # notification OID, metric, value

    @property
    def polls_snmp(self) -> bool:
        """Whether the profile reads anything by SNMP."""
        return bool(self.snmp_gets or self.interface)


@dataclass(frozen=True, slots=True)
class Usm:
    """SNMPv3 user-based security, authPriv."""

    user: str
    auth_protocol: str
    auth_key: str
    priv_protocol: str
    priv_key: str


@dataclass(frozen=True, slots=True)
class TrapUser:
    """An SNMPv3 user whose notifications are accepted, with its sending engine's id (hex)."""

    usm: Usm
    engine_id: str


@dataclass(frozen=True, slots=True)
class TrapSettings:
    """The trap listener: where it listens and whom it believes."""

    host: str
    port: int
    communities: tuple[str, ...]
    users: tuple[TrapUser, ...]
    max_bytes: int


@dataclass(frozen=True, slots=True)
class SnmpAccess:
    """How to reach a target's agent."""

    version: str
    community: str | None
    usm: Usm | None
    port: int
    timeout_s: float
    retries: int


@dataclass(frozen=True, slots=True)
class SipAccess:
    """How to reach a target's SIP user agent."""

    transport: str  # udp or tcp
    port: int
    timeout_s: float


@dataclass(frozen=True, slots=True)
class InterfaceChoice:
    """Which IF-MIB row is the WAN: by ifName, ifDescr or ifIndex."""

    name: str | None = None
    descr: str | None = None
    index: int | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """One device the probe watches, at its address, with its profile."""

    device_id: str
    device_class: str
    address: str
    profile: ProbeProfile
    snmp: SnmpAccess | None = None
    interface: InterfaceChoice | None = None
    sip: SipAccess | None = None


@dataclass(frozen=True, slots=True)
class IcmpSettings:
    """Echo requests per target per round, and how long each may take to be answered."""

    packets: int
    round_s: float
    timeout_s: float
    concurrency: int
    privileged: bool | None


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    """A whole probe file, checked, with its profiles loaded."""

    probe_id: str
    report_interval_s: float
    buffer_path: Path | None
    buffer_max_readings: int
    icmp: IcmpSettings
    targets: tuple[Target, ...]
    traps: TrapSettings | None = None


def load_probe_profile(path: Path, profiles: dict[str, Profile]) -> ProbeProfile:
    """Read one probe profile, checked against the device profiles; raise ProbeConfigError."""
    model = read_model(path, _ProfileModel, ProbeConfigError)
    if model.name != path.stem:
        raise ProbeConfigError(f"{path}: name {model.name!r} differs from the file name")
    device_profile = profiles.get(model.class_)
    if device_profile is None:
        raise ProbeConfigError(f"{path}: class: no device profile {model.class_!r}")
    mistakes = []
    for metric_name, statistic in model.icmp.items():
        metric = device_profile.metrics.get(metric_name)
        if metric is None:
            mistakes.append(f"{path}: icmp.{metric_name}: not a metric of {model.class_}")
        elif metric.type is not MetricType.NUMBER or metric.unit != _UNIT[statistic]:
            mistakes.append(
                f"{path}: icmp.{metric_name}: {statistic} is a number in {_UNIT[statistic]}; "
                f"the metric is {metric.type} in {metric.unit or 'no unit'}"
            )
    if model.snmp is not None:
        mistakes += _check_snmp(path, model.snmp, device_profile)
    mistakes += _check_kinds(path, "sip", model.sip, _SIP_METRIC, device_profile)
    for metric_name in model.trap_states:
        state_metric = device_profile.metrics.get(metric_name)
        if state_metric is None or state_metric.type is not MetricType.BOOL:
            mistakes.append(
                f"{path}: trap_states.{metric_name}: not a bool metric of {model.class_}"
            )
    if not (model.icmp or model.snmp or model.sip or model.trap_states or model.traps):
        mistakes.append(f"{path}: the profile watches nothing (give icmp, snmp, sip or traps)")
    mistakes += [
        f"{path}: traps.{oid}: {event!r} is not an event of {model.class_}"
        for oid, event in model.traps.items()
        if event not in device_profile.events
    ]
    if mistakes:
        raise ProbeConfigError("\n".join(mistakes))
    snmp = model.snmp or _SnmpProfileModel()
    gets = tuple(
        SnmpGet(m, g.oid, g.type, g.scale, g.offset, frozenset(g.true_values))
        for m, g in snmp.get.items()
    )
    states = tuple(
        (oid, metric, value)
        for metric, state in model.trap_states.items()
        for oid, value in ((state.set, True), (state.clear, False))
    )
    return ProbeProfile(
        model.name, model.class_, tuple(model.icmp.items()), gets,
        tuple(snmp.interface.items()), tuple(model.traps.items()), tuple(model.sip.items()),
        states,
    )  # fmt: skip


_INTERFACE_METRIC = {
    InterfaceStatistic.OPER_UP: (MetricType.BOOL, ""),
    InterfaceStatistic.IN_BPS: (MetricType.NUMBER, "bit/s"),
    InterfaceStatistic.OUT_BPS: (MetricType.NUMBER, "bit/s"),
    InterfaceStatistic.IN_ERRORS: (MetricType.NUMBER, "1/s"),
    InterfaceStatistic.OUT_ERRORS: (MetricType.NUMBER, "1/s"),
    InterfaceStatistic.IN_DISCARDS: (MetricType.NUMBER, "1/s"),
    InterfaceStatistic.OUT_DISCARDS: (MetricType.NUMBER, "1/s"),
}
_GET_METRIC = {
    SnmpType.NUMBER: MetricType.NUMBER,
    SnmpType.NUMBER_TEXT: MetricType.NUMBER,
    SnmpType.TIMETICKS: MetricType.NUMBER,
    SnmpType.STRING: MetricType.STRING,
    SnmpType.FLAG: MetricType.BOOL,
}


def _check_snmp(path: Path, snmp: _SnmpProfileModel, profile: Profile) -> list[str]:
    mistakes, of_class = [], f"not a metric of {profile.device_class}"
    for name, get in snmp.get.items():
        metric = profile.metrics.get(name)
        if metric is None:
            mistakes.append(f"{path}: snmp.get.{name}: {of_class}")
        elif metric.type is not _GET_METRIC[get.type]:
            mistakes.append(f"{path}: snmp.get.{name}: a {get.type} feeds no {metric.type} metric")
        elif get.type is SnmpType.TIMETICKS and metric.unit != "s":
            mistakes.append(f"{path}: snmp.get.{name}: timeticks are published in s")
    mistakes += _check_kinds(path, "snmp.interface", snmp.interface, _INTERFACE_METRIC, profile)
    if not snmp.get and not snmp.interface:
        mistakes.append(f"{path}: snmp: polls nothing (give get or interface)")
    return mistakes


def _check_kinds(
    path: Path,
    where: str,
    mapping: Mapping[str, StrEnum],
    wanted: Mapping[Any, tuple[MetricType, str]],
    profile: Profile,
) -> list[str]:
    """Each metric fed by a statistic must exist and have the statistic's type and unit."""
    mistakes = []
    for name, statistic in mapping.items():
        metric = profile.metrics.get(name)
        wanted_type, wanted_unit = wanted[statistic]
        if metric is None:
            mistakes.append(f"{path}: {where}.{name}: not a metric of {profile.device_class}")
        elif metric.type is not wanted_type or (wanted_unit and metric.unit != wanted_unit):
            mistakes.append(
                f"{path}: {where}.{name}: {statistic} is a {wanted_type}"
                + (f" in {wanted_unit}" if wanted_unit else "")
            )
    return mistakes


def load_probe_config(
    path: Path, profiles: dict[str, Profile], inventory: Inventory, default_profiles_dir: Path
) -> ProbeConfig:
    """Read the probe file and its profiles; every target must be an inventory device."""
    model = read_model(path, _ProbeModel, ProbeConfigError)
    if PROBE_CLASS not in profiles:
        raise ProbeConfigError(f"the profiles define no class {PROBE_CLASS!r} for the probe")
    profiles_dir = _relative(path, model.profiles_dir) or default_profiles_dir
    loaded: dict[str, ProbeProfile] = {}
    targets, mistakes = [], []
    for target in model.targets:
        where = f"{path}: targets[{target.device!r}]"
        device = inventory.devices.get(target.device)
        if device is None:
            mistakes.append(f"{where}: no device {target.device!r} in the inventory")
            continue
        name = target.profile or model.defaults.get(device.device_class)
        if name is None:
            mistakes.append(
                f"{where}: no profile, and no default for class {device.device_class!r}"
            )
            continue
        if name not in loaded:
            loaded[name] = _load_named(f"{where}.profile", profiles_dir, name, profiles)
        profile = loaded[name]
        if profile.device_class != device.device_class:
            mistakes.append(
                f"{where}: profile {name!r} is for {profile.device_class}, "
                f"the inventory lists {target.device} as {device.device_class}"
            )
            continue
        access = target.snmp or model.snmp
        if profile.polls_snmp and access is None:
            mistakes.append(f"{where}: profile {name!r} polls SNMP: give snmp access")
            continue
        if profile.interface and target.interface is None:
            mistakes.append(f"{where}: profile {name!r} reads the WAN interface: give interface")
            continue
        targets.append(
            Target(
                device.id, device.device_class, target.address, profile,
                _access(access) if profile.polls_snmp and access else None,
                InterfaceChoice(**target.interface.model_dump()) if target.interface else None,
                _sip(target.sip or model.sip) if profile.sip else None,
            )
        )  # fmt: skip
    if mistakes:
        raise ProbeConfigError("\n".join(mistakes))
    icmp = model.icmp
    return ProbeConfig(
        model.probe_id,
        model.report_interval,
        _relative(path, model.buffer.path),
        model.buffer.max_readings,
        IcmpSettings(icmp.packets, icmp.round, icmp.timeout, icmp.concurrency, icmp.privileged),
        tuple(targets),
        _traps(model.traps) if model.traps else None,
    )


def _traps(model: _TrapsModel) -> TrapSettings:
    users = tuple(
        TrapUser(
            Usm(u.user, u.auth_protocol, u.auth_key, u.priv_protocol, u.priv_key),
            u.engine_id,
        )
        for u in model.usm
    )
    return TrapSettings(model.listen, model.port, tuple(model.communities), users, model.max_bytes)


def _sip(model: _SipAccessModel) -> SipAccess:
    return SipAccess(model.transport, model.port, model.timeout)


def _access(model: _SnmpAccessModel) -> SnmpAccess:
    usm = Usm(**model.usm.model_dump()) if model.usm else None
    return SnmpAccess(model.version, model.community, usm, model.port, model.timeout, model.retries)


def _load_named(
    where: str, profiles_dir: Path, name: str, profiles: dict[str, Profile]
) -> ProbeProfile:
    profile_path = profiles_dir / f"{name}.yaml"
    if not profile_path.is_file():
        known = ", ".join(sorted(p.stem for p in profiles_dir.glob("*.yaml"))) or "none"
        raise ProbeConfigError(f"{where}: no probe profile {name!r} in {profiles_dir} ({known})")
    return load_probe_profile(profile_path, profiles)


def _relative(path: Path, given: Path | None) -> Path | None:
    if given is None or given.is_absolute():
        return given
    return path.parent / given
