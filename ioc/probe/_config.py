"""The probe file and the probe profiles it names, checked strictly and against the inventory.

A probe profile is data, like a Modbus register map: which profile metric each measurement
feeds. The probe file lists targets by inventory device id with their address, and the checks'
defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ioc.config.documents import read_model
from ioc.domain import BadFileError, Inventory, MetricType, Profile
from ioc.probe._schema import (
    ICMP_UNIT,
    SIP_METRIC,
    IcmpStatistic,
    InterfaceStatistic,
    ProbeModel,
    ProfileModel,
    SipAccessModel,
    SipStatistic,
    SnmpAccessModel,
    SnmpProfileModel,
    SnmpType,
    TrapsModel,
)

PROBE_CLASS = "probe"


class ProbeConfigError(BadFileError):
    """The probe file or a profile it names is wrong; each line names the file and the entry."""


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
    sys_object_ids: tuple[str, ...] = ()  # the gear it is for (discovery matches by them)

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
    model = read_model(path, ProfileModel, ProbeConfigError)
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
        elif metric.type is not MetricType.NUMBER or metric.unit != ICMP_UNIT[statistic]:
            mistakes.append(
                f"{path}: icmp.{metric_name}: {statistic} is a number in {ICMP_UNIT[statistic]}; "
                f"the metric is {metric.type} in {metric.unit or 'no unit'}"
            )
    if model.snmp is not None:
        mistakes += _check_snmp(path, model.snmp, device_profile)
    mistakes += _check_kinds(path, "sip", model.sip, SIP_METRIC, device_profile)
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
    snmp = model.snmp or SnmpProfileModel()
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
        states, tuple(model.sys_object_ids),
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


def _check_snmp(path: Path, snmp: SnmpProfileModel, profile: Profile) -> list[str]:
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
    model = read_model(path, ProbeModel, ProbeConfigError)
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


def _traps(model: TrapsModel) -> TrapSettings:
    users = tuple(
        TrapUser(
            Usm(u.user, u.auth_protocol, u.auth_key, u.priv_protocol, u.priv_key),
            u.engine_id,
        )
        for u in model.usm
    )
    return TrapSettings(model.listen, model.port, tuple(model.communities), users, model.max_bytes)


def _sip(model: SipAccessModel) -> SipAccess:
    return SipAccess(model.transport, model.port, model.timeout)


def _access(model: SnmpAccessModel) -> SnmpAccess:
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
