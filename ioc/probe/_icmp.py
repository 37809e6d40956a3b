"""ICMP echo to many targets at once, the way fping does it: one socket, requests paced over the
round, replies matched back by source address and sequence number.

icmplib builds, sends and parses the packets; a socket per target would not scale (every raw
socket sees every reply on the machine). An unprivileged datagram socket is used where
`net.ipv4.ping_group_range` allows it, a raw socket as root, and a clear error otherwise.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import fmean

from icmplib import ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import ICMPLibError, SocketPermissionError, TimeoutExceeded

from ioc.domain import EdgeError
from ioc.probe._schema import IcmpStatistic

log = logging.getLogger("ioc.probe.icmp")

_ECHO_REPLY = {4: 0, 6: 129}
_ERRORS = {4: {3, 11}, 6: {1, 3}}  # destination unreachable, time exceeded
_RECEIVE_WAIT_S = 0.2
_PAYLOAD = bytes(56)  # as ping's; a fixed one spares icmplib drawing 56 random bytes a request
_SEND_SLACK_S = 0.002  # requests due this close together go out in one burst, one wake-up


class IcmpUnavailable(EdgeError):
    """No ICMP socket can be opened here; the message says what to change."""


@dataclass(slots=True)
class EchoResult:
    """What one round of echo requests to one address gave."""

    address: str
    sent: int = 0
    rtts_ms: list[float] = field(default_factory=list)
    errors: int = 0  # an ICMP error came back (unreachable, time exceeded) or sending failed

    @property
    def answered(self) -> bool:
        """Whether any request was answered."""
        return bool(self.rtts_ms)

    @property
    def loss_pct(self) -> float:
        """Requests not answered in time, in percent of those sent."""
        return 100.0 * (self.sent - len(self.rtts_ms)) / self.sent if self.sent else 100.0

    def statistic(self, which: IcmpStatistic) -> float | None:
        """One figure of the round; None for a time when nothing was answered."""
        if which is IcmpStatistic.LOSS:
            return round(self.loss_pct, 2)
        rtts = self.rtts_ms
        if not rtts:
            return None
        if which is IcmpStatistic.AVG:
            value = fmean(rtts)
        elif which is IcmpStatistic.MIN:
            value = min(rtts)
        elif which is IcmpStatistic.MAX:
            value = max(rtts)
        else:  # jitter: the mean change between consecutive round trips (as icmplib, fping)
            steps = [abs(b - a) for a, b in itertools.pairwise(rtts)]
            value = fmean(steps) if steps else 0.0
        return round(value, 3)


@dataclass(slots=True)
class IcmpCounters:
    """Since the pinger opened."""

    sent: int = 0
    received: int = 0
    errors: int = 0
    stray: int = 0  # replies from a host we did not ask, for a sequence not pending, or late


class Pinger:
    """Echo requests over one socket per address family; `round` measures many targets."""

    def __init__(self, privileged: bool | None = None) -> None:
        self.counters = IcmpCounters()
        self._privileged = privileged
        self._sockets: dict[int, ICMPv4Socket | ICMPv6Socket] = {}
        self._id = os.getpid() & 0xFFFF
        self._sequence = 0
        self._pending: dict[tuple[str, int], tuple[float, EchoResult]] = {}
        self._by_sequence: dict[int, str] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._receivers: list[threading.Thread] = []
        self._timeout_s = 2.0
        self.mode = ""

    @property
    def families(self) -> set[int]:
        """The address families a socket is open for."""
        return set(self._sockets)

    def open(self, families: set[int]) -> None:
        """Open a socket for each address family (4, 6) and start receiving."""
        for family in sorted(families):
            sock = self._open(family)
            self._sockets[family] = sock
            receiver = threading.Thread(
                target=self._receive, args=(family, sock), name=f"icmp{family}-receive", daemon=True
            )
            receiver.start()
            self._receivers.append(receiver)

    def _open(self, family: int) -> ICMPv4Socket | ICMPv6Socket:
        kind = ICMPv4Socket if family == 4 else ICMPv6Socket
        tries = [self._privileged] if self._privileged is not None else [False, True]
        for privileged in tries:
            try:
                sock = kind(privileged=privileged)
            except SocketPermissionError:
                continue
            except ICMPLibError as exc:
                raise IcmpUnavailable(f"cannot open an ICMPv{family} socket: {exc}") from exc
            self.mode = "raw (privileged)" if privileged else "datagram (unprivileged)"
            return sock
        raise IcmpUnavailable(
            f"ICMPv{family} is not allowed to this process (uid {os.getuid()}, gid "
            f"{os.getgid()}): allow unprivileged ICMP with `sysctl -w "
            f"net.ipv4.ping_group_range='0 2147483647'` (or a range holding gid {os.getgid()}), "
            "or run the probe as root or with CAP_NET_RAW"
        )

    def close(self) -> None:
        """Stop receiving and close the sockets."""
        self._stopping.set()
        for receiver in self._receivers:
            receiver.join(timeout=2)
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()

    def round(
        self,
        addresses: Sequence[str],
        packets: int,
        round_s: float,
        timeout_s: float,
        stopping: threading.Event,
    ) -> dict[str, EchoResult]:
        """Send `packets` requests to every address, paced over the round so that the last is
        answered (or given up) by its end; each address's result. Returns early when stopped."""
        results = {address: EchoResult(address) for address in addresses}
        if not addresses:
            return results
        self._timeout_s = timeout_s
        families = {a: ipaddress.ip_address(a).version for a in addresses}
        started = time.monotonic()
        gap_s = max(round_s - timeout_s, 0.0) / packets
        spread_s = gap_s / len(addresses)
        for packet in range(packets):
            for index, address in enumerate(addresses):
                ahead = started + packet * gap_s + index * spread_s - time.monotonic()
                if (ahead > _SEND_SLACK_S or stopping.is_set()) and stopping.wait(ahead):
                    return results
                self._send(results[address], families[address])
        stopping.wait(max(0.0, timeout_s - (time.monotonic() - started - packets * gap_s)))
        self._forget(results.values())
        return results

    def _send(self, result: EchoResult, family: int) -> None:
        sock = self._sockets[family]
        with self._lock:
            self._sequence = sequence = (self._sequence + 1) & 0xFFFF
            # icmplib's `send` resolves the address and sets TTL and traffic class, three system
            # calls a request; the probe sends thousands a round, so it takes icmplib's packet
            # and sends it itself (icmplib pinned below 4 for `_create_packet`).
            packet = sock._create_packet(self._id, sequence, _PAYLOAD)
            self._pending[(result.address, sequence)] = (time.time(), result)
            self._by_sequence[sequence] = result.address
        result.sent += 1
        self.counters.sent += 1
        try:
            sock.sock.sendto(packet, (result.address, 0))
        except OSError:  # no route, network down: the target is unreachable from here
            result.errors += 1
            self.counters.errors += 1

    def _forget(self, results: Iterable[EchoResult]) -> None:
        """Drop what is still pending for a finished round: a reply now is late."""
        finished = {id(r) for r in results}
        with self._lock:
            for key in [k for k, (_, r) in self._pending.items() if id(r) in finished]:
                del self._pending[key]
                self._by_sequence.pop(key[1], None)

    def _receive(self, family: int, sock: ICMPv4Socket | ICMPv6Socket) -> None:
        while not self._stopping.is_set():
            try:
                reply = sock.receive(None, _RECEIVE_WAIT_S)
            except TimeoutExceeded:
                continue
            except ICMPLibError as exc:
                if not self._stopping.is_set():
                    log.warning("ICMPv%d socket failed, receiving stops: %s", family, exc)
                return
            self._match(family, reply.source, reply.id, reply.sequence, reply.type, reply.time)

    def _match(
        self, family: int, source: str, ident: int, sequence: int, kind: int, at: float
    ) -> None:
        privileged_socket = "raw" in self.mode
        if privileged_socket and ident != self._id:
            return  # a raw socket sees every ICMP message on the machine: not ours
        with self._lock:
            if kind in _ERRORS[family]:
                address = self._by_sequence.get(sequence)
                entry = self._pending.pop((address, sequence), None) if address else None
                if entry is not None:
                    entry[1].errors += 1
                    self.counters.errors += 1
                return
            if kind != _ECHO_REPLY[family]:
                return
            entry = self._pending.pop((source, sequence), None)
            if entry is None:
                self.counters.stray += 1
                return
            self._by_sequence.pop(sequence, None)
        sent_at, result = entry
        if at - sent_at > self._timeout_s:
            self.counters.stray += 1  # answered, but too late to count: lost for this round
            return
        result.rtts_ms.append((at - sent_at) * 1000.0)
        self.counters.received += 1
