"""The probe file's and the probe profiles' format as they are read: every field checked
strictly (pydantic), before `_config.py` checks them against the inventory and the profiles."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc.config.documents import Duration
from ioc.domain import DEVICE_ID_PATTERN, MetricType
from ioc.edge import BufferSection


class IcmpStatistic(StrEnum):
    """What a round of echo requests to one target yields."""

    AVG = "avg"  # mean round-trip time of the answered requests, ms
    MIN = "min"
    MAX = "max"
    JITTER = "jitter"  # mean difference between consecutive round-trip times, ms
    LOSS = "loss"  # requests not answered in time, %


ICMP_UNIT = {statistic: "ms" for statistic in IcmpStatistic} | {IcmpStatistic.LOSS: "%"}


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


SIP_METRIC = {
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


class SnmpProfileModel(_Strict):
    get: dict[str, _SnmpGetModel] = {}
    interface: dict[str, InterfaceStatistic] = {}


class ProfileModel(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    class_: str = Field(alias="class", min_length=1)
    description: str = ""
    icmp: dict[str, IcmpStatistic] = {}  # (always pinged: an answer is the device heard)
    snmp: SnmpProfileModel | None = None
    traps: dict[str, str] = {}  # notification OID (snmpTrapOID) -> event of the class
    sip: dict[str, SipStatistic] = {}  # metric -> what the OPTIONS request gave
    trap_states: dict[str, _TrapStateModel] = {}  # bool metric -> the traps that set/clear it
    # The gear it is for, by the start of its sysObjectID (its maker's enterprise OID, or one
    # product's): `ioc discover` proposes the profile for an agent that answers with one.
    sys_object_ids: list[str] = []

    @field_validator("traps")
    @classmethod
    def _trap_oids(cls, traps: dict[str, str]) -> dict[str, str]:
        bad = [oid for oid in traps if not re.fullmatch(_OID, oid)]
        if bad:
            raise ValueError(f"not an OID (give it numeric): {', '.join(bad)}")
        return traps

    @field_validator("sys_object_ids")
    @classmethod
    def _object_ids(cls, oids: list[str]) -> list[str]:
        bad = [oid for oid in oids if not re.fullmatch(_OID, oid)]
        if bad:
            raise ValueError(f"not an OID (give it numeric): {', '.join(bad)}")
        return oids


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


class SnmpAccessModel(_Strict):
    version: Literal["2c", "3"] = "2c"
    community: str | None = Field(default=None, min_length=1)
    usm: _UsmModel | None = None  # SNMPv3 authPriv
    port: int = Field(default=161, ge=1, le=65535)
    timeout: Duration = 1.0
    retries: int = Field(default=1, ge=0, le=5)

    @model_validator(mode="after")
    def _credentials(self) -> SnmpAccessModel:
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


class TrapsModel(_Strict):
    listen: str = "0.0.0.0"
    port: int = Field(default=162, ge=0, le=65535)  # 0: any free port (tests)
    communities: list[str] = []  # SNMPv1 and v2c
    usm: list[_TrapUserModel] = []  # SNMPv3 authPriv, one per sending engine
    max_bytes: int = Field(default=8192, ge=484, le=65507)

    @model_validator(mode="after")
    def _someone(self) -> TrapsModel:
        try:
            ipaddress.ip_address(self.listen)
        except ValueError:
            raise ValueError(f"listen: {self.listen!r} is not an IPv4 or IPv6 address") from None
        if not self.communities and not self.usm:
            raise ValueError("accept traps from someone: give communities or usm users")
        if any(not c for c in self.communities):
            raise ValueError("communities: an empty community")
        return self


class SipAccessModel(_Strict):
    transport: Literal["udp", "tcp"] = "udp"
    port: int = Field(default=5060, ge=1, le=65535)
    timeout: Duration = 2.0

    @model_validator(mode="after")
    def _fits(self) -> SipAccessModel:
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
    snmp: SnmpAccessModel | None = None  # overrides the file's snmp defaults
    interface: _InterfaceChoiceModel | None = None
    sip: SipAccessModel | None = None  # overrides the file's sip defaults

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


class ProbeModel(_Strict):
    probe_id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    report_interval: Duration = 60.0
    profiles_dir: Path | None = None
    buffer: BufferSection = BufferSection()
    icmp: _IcmpModel = _IcmpModel()
    snmp: SnmpAccessModel | None = None  # for every target whose profile polls SNMP
    traps: TrapsModel | None = None  # no listener without it
    sip: SipAccessModel = SipAccessModel()  # for every target whose profile asks SIP
    defaults: dict[str, str] = {}  # device class -> profile name
    targets: list[_TargetModel] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ProbeModel:
        for what, values in (
            ("device", [t.device for t in self.targets] + [self.probe_id]),
            ("address", [str(ipaddress.ip_address(t.address)) for t in self.targets]),
        ):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"each {what} may be listed once: {', '.join(repeated)}")
        return self
