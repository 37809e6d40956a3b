"""The probe file and the probe profiles it names, checked strictly and against the inventory.

A probe profile is data, like a Modbus register map: which profile metric each measurement
feeds. The probe file lists targets by inventory device id with their address, and the checks'
defaults.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ioc.config.documents import Duration, read_model
from ioc.domain import DEVICE_ID_PATTERN, BadFileError, Inventory, MetricType, Profile

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ProfileModel(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    class_: str = Field(alias="class", min_length=1)
    description: str = ""
    icmp: dict[str, IcmpStatistic] = Field(min_length=1)


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


class _TargetModel(_Strict):
    device: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    address: str
    profile: str | None = None

    @model_validator(mode="after")
    def _an_address(self) -> _TargetModel:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            raise ValueError(f"{self.address!r} is not an IPv4 or IPv6 address") from None
        return self


class _BufferModel(_Strict):
    path: Path | None = None
    max_readings: int = Field(default=200_000, ge=100, le=10_000_000)


class _ProbeModel(_Strict):
    probe_id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    report_interval: Duration = 60.0
    profiles_dir: Path | None = None
    buffer: _BufferModel = _BufferModel()
    icmp: _IcmpModel = _IcmpModel()
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
class ProbeProfile:
    """How one kind of equipment is watched: which metric each measurement feeds."""

    name: str
    device_class: str
    icmp: tuple[tuple[str, IcmpStatistic], ...]


@dataclass(frozen=True, slots=True)
class Target:
    """One device the probe watches, at its address, with its profile."""

    device_id: str
    device_class: str
    address: str
    profile: ProbeProfile


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
    if mistakes:
        raise ProbeConfigError("\n".join(mistakes))
    return ProbeProfile(model.name, model.class_, tuple(model.icmp.items()))


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
        targets.append(Target(device.id, device.device_class, target.address, profile))
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
    )


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
