"""Discovery: who answers on a subnet, by ICMP echo and by SNMP (sysObjectID, sysName,
sysDescr, ifNumber), and which probe profile is for it, by the sysObjectIDs the profiles
declare. Nothing is guessed: gear no profile declares, or that two profiles claim alike, is
reported with what it said.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ioc.domain import Profile
from ioc.probe._config import ProbeConfigError, ProbeProfile, SnmpAccess, load_probe_profile
from ioc.probe._icmp import Pinger
from ioc.probe._snmp import SnmpPoller

MAX_ADDRESSES = 4096  # a /20 at once: a province's subnets are swept one by one


@dataclass(frozen=True, slots=True)
class Sighting:
    """What one address gave: an echo reply, and what its agent said of itself."""

    address: str
    answers_ping: bool
    said: dict[str, str]  # sys_object_id, sys_name, sys_descr, interfaces (as text)
    snmp_failure: str | None  # why the agent said nothing (None when it answered)

    @property
    def answers_snmp(self) -> bool:
        """Whether its agent answered."""
        return bool(self.said)


def addresses_of(network: str) -> list[str]:
    """The host addresses of a network (`198.51.100.0/24`, or one address), less this machine's
    own (ValueError for what is no network, or one larger than MAX_ADDRESSES)."""
    try:
        parsed = ipaddress.ip_network(network, strict=False)
    except ValueError as exc:
        raise ValueError(f"{network!r} is not an IPv4 or IPv6 network ({exc})") from None
    if parsed.num_addresses > MAX_ADDRESSES + 2:
        raise ValueError(
            f"{network} has {parsed.num_addresses:,} addresses: sweep at most "
            f"{MAX_ADDRESSES:,} at once (a /20), one part after the other"
        )
    hosts = [str(a) for a in parsed.hosts()] if parsed.num_addresses > 1 else [str(parsed[0])]
    return [a for a in hosts if not _own(a)]


def _own(address: str) -> bool:
    """Whether the address is this machine's (only a local address can be bound)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def sweep(
    addresses: Sequence[str],
    access: SnmpAccess,
    packets: int = 2,
    timeout_s: float = 1.0,
    concurrency: int = 500,
    privileged: bool | None = None,
) -> list[Sighting]:
    """Ping every address and ask every agent (a router may drop echo requests and still
    answer SNMP); what each gave, in address order."""
    pinger, snmp = Pinger(privileged), SnmpPoller(concurrency)
    pinger.open({ipaddress.ip_address(a).version for a in addresses})
    snmp.start()
    try:
        asked = snmp.identify(addresses, access)
        echoes = pinger.round(list(addresses), packets, timeout_s * 2, timeout_s, threading.Event())
        said = asked.result(timeout=(access.timeout_s + 1) * (access.retries + 1) * 4 + 60)
    finally:
        pinger.close()
        snmp.close()
    return [
        Sighting(a, echoes[a].answered, said[a][0], said[a][1])
        for a in sorted(addresses, key=ipaddress.ip_address)
    ]


def probe_profiles(directory: Path, profiles: dict[str, Profile]) -> list[ProbeProfile]:
    """Every probe profile of a folder (ProbeConfigError for one that is wrong)."""
    loaded = [load_probe_profile(path, profiles) for path in sorted(directory.glob("*.yaml"))]
    if not loaded:
        raise ProbeConfigError(f"{directory}: no probe profiles (*.yaml)")
    return loaded


def matching(object_id: str, profiles: Iterable[ProbeProfile]) -> list[ProbeProfile]:
    """The profiles declaring the longest start of `object_id` (one: the match; several: a
    tie, for a person to settle; none: gear no profile is for)."""
    best, found = 0, []
    for profile in profiles:
        for declared in profile.sys_object_ids:
            if object_id == declared or object_id.startswith(declared + "."):
                length = declared.count(".") + 1
                if length > best:
                    best, found = length, [profile]
                elif length == best and profile not in found:
                    found.append(profile)
    return found
