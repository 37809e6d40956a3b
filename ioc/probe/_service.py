"""`ioc probe`: rounds of checks over the targets, published as the devices they are.

Each round's figures become a reading of the device in its profile's metrics. A target that
answers nothing gets no reading (a reading means the device was heard) but is `offline` on its
status topic at once, so `device.down` fires without waiting out the silence window, and
`online` again when it answers; both logged once per change.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import threading
import time
from collections.abc import Callable

from ioc.domain import Clock, now_ms
from ioc.edge import EdgeOptions, EdgeOutbox
from ioc.probe._config import PROBE_CLASS, ProbeConfig, Target
from ioc.probe._icmp import EchoResult, Pinger
from ioc.probe._sip import SipOutcome, SipPinger, sip_metrics
from ioc.probe._snmp import SnmpOutcome, SnmpPoller
from ioc.probe._traps import RejectedDatagram, Rejection, Trap, TrapListener

log = logging.getLogger("ioc.probe")

# Dead letters are kept as events of the probe; a flood of garbage is counted, not all kept.
KEPT_REJECTIONS_PER_S = 20
_REMEMBERED_REJECTERS = 1000


class Probe:
    """The probe's checks and its way out; `run_rounds` is its working loop."""

    name = "probe"
    failure: BaseException | None = None

    def __init__(self, config: ProbeConfig, options: EdgeOptions, clock: Clock = now_ms) -> None:
        self.config = config
        self.outbox = EdgeOutbox(options, PROBE_CLASS, config.probe_id, config.buffer_max_readings)
        self.pinger = Pinger(config.icmp.privileged)
        self.snmp = SnmpPoller(config.icmp.concurrency)
        self.sip = SipPinger(config.icmp.concurrency)
        self._said: dict[tuple[str, str], tuple[str | None, tuple[str, ...]]] = {}
        self.rounds = 0
        self.last_round_s = 0.0
        self.answering: dict[str, bool] = {}
        self._take_targets(config.targets)
        self._next_targets: tuple[Target, ...] | None = None
        self.traps = {"traps": 0, "rejected": 0, "unkept": 0}
        self.trap_listener = (
            TrapListener(
                config.traps, [t.address for t in config.targets], self.on_trap, self.on_rejected
            )
            if config.traps is not None
            else None
        )  # a service of its own, started after the probe (see ioc.app)
        self._rejections_second, self._rejections_kept = 0, 0
        self._rejecters: set[tuple[str, str]] = set()  # (source, reason) already logged
        self._trap_lock = threading.Lock()
        self._trap_states: dict[str, dict[str, bool]] = {}  # device -> metric -> value
        self._clock = clock
        self._started = time.monotonic()

    def _take_targets(self, targets: tuple[Target, ...]) -> None:
        self._snmp_targets = [t for t in targets if t.snmp is not None]
        self._sip_targets = [t for t in targets if t.sip is not None]
        self._by_address = {str(ipaddress.ip_address(t.address)): t for t in targets}
        self._trap_events = {t.device_id: dict(t.profile.traps) for t in targets}

    def retarget(self, config: ProbeConfig) -> list[str]:
        """Watch the targets of a changed probe file from the next round on (a removed one is
        probed no more: nothing is said of it, its device's rules judge its silence); the
        other settings that changed need a restart, and are named."""
        kept = ("probe_id", "report_interval_s", "buffer_path", "buffer_max_readings", "icmp",
                "traps")  # fmt: skip
        restart = [f for f in kept if getattr(config, f) != getattr(self.config, f)]
        self._next_targets = config.targets
        return restart

    def _retarget_now(self) -> None:
        targets, self._next_targets = self._next_targets, None
        if targets is None:
            return
        families: set[int] = {ipaddress.ip_address(t.address).version for t in targets}
        self.pinger.open(families - self.pinger.families)
        watched = {t.device_id for t in targets}
        gone = [t.device_id for t in self.config.targets if t.device_id not in watched]
        self.config = dataclasses.replace(self.config, targets=targets)
        self._take_targets(targets)
        if self.trap_listener is not None:
            self.trap_listener.admit(t.address for t in targets)
        for device_id in gone:
            self.answering.pop(device_id, None)
        log.info("probe: %d targets from now on (%d no longer watched)", len(targets), len(gone))

    def start(self) -> None:
        """Open the ICMP sockets (IcmpUnavailable says why not) and connect to the broker."""
        families: set[int] = {ipaddress.ip_address(t.address).version for t in self.config.targets}
        self.pinger.open(families)
        log.info("ICMP over %s sockets", self.pinger.mode)
        self.snmp.start()
        self.sip.start()
        self.outbox.start()

    def stop(self) -> None:
        """Close the sockets, report once more, hand the buffer over, say offline for all."""
        self.pinger.close()
        self.snmp.close()
        self.sip.close()
        self.report_health()
        self.outbox.stop([(t.device_class, t.device_id) for t in self.config.targets])

    def run_rounds(self, stopping: threading.Event, on_round: Callable[[], None] | None) -> None:
        """One round every `round` seconds until stopped."""
        icmp = self.config.icmp
        while not stopping.is_set():
            began = time.monotonic()
            self.run_round(stopping)
            if on_round is not None and not stopping.is_set():
                on_round()
            stopping.wait(max(0.0, icmp.round_s - (time.monotonic() - began)))

    def run_round(self, stopping: threading.Event) -> None:
        """Ping every target once (several requests each) and publish what each gave."""
        self._retarget_now()
        icmp = self.config.icmp
        began, taken_ms = time.monotonic(), self._clock()
        by_address = {t.address: t for t in self.config.targets}
        polls = self.snmp.poll(self._snmp_targets, time.time()) if self._snmp_targets else None
        options = self.sip.ping(self._sip_targets) if self._sip_targets else None
        results = self.pinger.round(
            list(by_address), icmp.packets, icmp.round_s, icmp.timeout_s, stopping
        )
        if stopping.is_set():
            for pending in (polls, options):
                if pending is not None:
                    pending.cancel()
            return  # a round cut short measures the stop, not the network
        polled = polls.result(timeout=icmp.round_s + 30) if polls is not None else {}
        answered = options.result(timeout=icmp.round_s + 30) if options is not None else {}
        for address, result in results.items():
            target = by_address[address]
            self._publish(
                target, result, polled.get(target.device_id), answered.get(target.device_id),
                taken_ms,
            )  # fmt: skip
        self.rounds += 1
        self.last_round_s = time.monotonic() - began

    def _publish(
        self,
        target: Target,
        result: EchoResult,
        polled: SnmpOutcome | None,
        sip: SipOutcome | None,
        taken_ms: int,
    ) -> None:
        metrics: dict[str, object] = {}
        if result.answered:
            metrics |= {m: result.statistic(s) for m, s in target.profile.icmp}
        if polled is not None:
            self._say(target, "SNMP", polled.failure, polled.problems)
            metrics |= polled.metrics
        if sip is not None:
            self._say(target, "SIP", sip.failure, [])
            metrics |= sip_metrics(target, sip)
        with self._trap_lock:
            metrics |= self._trap_states.get(target.device_id, {})
        answered = (
            result.answered
            or (polled is not None and polled.answered)
            or (sip is not None and sip.answered)
        )
        # A reading says the device was heard: one that answered nothing gets none, only its
        # offline status (the rules then call it down at once, not after a silence window).
        if answered and metrics:
            self.outbox.reading(target.device_class, target.device_id, taken_ms, metrics)
        if self.answering.get(target.device_id) != answered:
            if answered:
                log.info("%s (%s) answers", target.device_id, target.address)
            elif target.device_id in self.answering:
                log.warning("%s (%s) does not answer", target.device_id, target.address)
            self.answering[target.device_id] = answered
            self.outbox.status(target.device_class, target.device_id, answered)

    def _say(self, target: Target, protocol: str, failure: str | None, problems: list[str]) -> None:
        """One log line when a target's SNMP or SIP goes wrong, changes how, or is right
        again."""
        said = (failure, tuple(problems))
        key = (target.device_id, protocol)
        before = self._said.get(key)
        self._said[key] = said
        if said == before or (before is None and said == (None, ())):
            return
        if failure is not None:
            log.warning("%s: %s fails: %s", target.device_id, protocol, failure)
        elif problems:
            log.warning("%s: %s reading incomplete: %s", target.device_id, protocol,
                        "; ".join(problems))  # fmt: skip
        else:
            log.info("%s: %s answers in full again", target.device_id, protocol)

    def on_trap(self, trap: Trap) -> None:
        """A notification from a target: the event its profile names, published at once."""
        target = self._by_address[trap.source]  # the listener lets only targets' traps through
        event = self._trap_events[target.device_id].get(trap.trap_oid)
        states = {m: v for oid, m, v in target.profile.trap_states if oid == trap.trap_oid}
        if event is None and not states:
            detail = f"notification {trap.trap_oid} is not in profile {target.profile.name!r}"
            self.on_rejected(
                RejectedDatagram(trap.source, 0, Rejection.NOT_IN_PROFILE, detail, 0, b"")
            )
            return
        with self._trap_lock:
            self.traps["traps"] += 1
            self._trap_states.setdefault(target.device_id, {}).update(states)
        taken_ms = self._clock()
        if event is not None:
            data: dict[str, object] = {"trap": trap.trap_oid, "source": trap.source}
            if trap.var_binds:
                data["var_binds"] = dict(trap.var_binds)
            self.outbox.event(target.device_class, target.device_id, taken_ms, event, data)
        if states:  # the state the trap tells, at once (and in every round's reading after)
            self.outbox.reading(target.device_class, target.device_id, taken_ms, dict(states))
        told = [*([event] if event else []), *(f"{m}={v}" for m, v in states.items())]
        log.info("%s: trap %s -> %s", target.device_id, trap.trap_oid, ", ".join(told))

    def on_rejected(self, rejected: RejectedDatagram) -> None:
        """A dead letter on the trap port: counted, logged once per sender and reason, and
        kept as a `trap_rejected` event of the probe (up to a rate; the rest counted)."""
        now_s = int(time.monotonic())
        with self._trap_lock:
            self.traps["rejected"] += 1
            if now_s != self._rejections_second:
                self._rejections_second, self._rejections_kept = now_s, 0
            keep = self._rejections_kept < KEPT_REJECTIONS_PER_S
            self._rejections_kept += keep
            self.traps["unkept"] += not keep
            sender = (rejected.source, str(rejected.reason))
            # Past that many senders (a scan, spoofed sources) they are only counted.
            first = sender not in self._rejecters and len(self._rejecters) < _REMEMBERED_REJECTERS
            if first:
                self._rejecters.add(sender)
        if first:
            log.warning("trap from %s rejected (%s): %s; further ones are counted",
                        rejected.source, rejected.reason, rejected.detail)  # fmt: skip
        if keep:
            data: dict[str, object] = {
                "source": rejected.source,
                "port": rejected.port,
                "reason": str(rejected.reason),
                "detail": rejected.detail,
                "bytes": rejected.size,
                "head_hex": rejected.head.hex(),
            }
            own = self.config.probe_id
            self.outbox.event(PROBE_CLASS, own, self._clock(), "trap_rejected", data)

    def health(self) -> dict[str, float]:
        """The probe's own telemetry: its checks and its buffer."""
        counters = self.pinger.counters
        return {
            "targets": len(self.config.targets),
            "targets_up": sum(self.answering.values()),
            "rounds": self.rounds,
            "round_s": round(self.last_round_s, 3),
            "icmp_sent": counters.sent,
            "icmp_received": counters.received,
            "icmp_errors": counters.errors,
            "stray_replies": counters.stray,
            "snmp_polls": self.snmp.counters["polls"],
            "snmp_timeouts": self.snmp.counters["timeouts"],
            "snmp_auth_errors": self.snmp.counters["auth_errors"],
            "snmp_missing": self.snmp.counters["missing"],
            "snmp_wrong_type": self.snmp.counters["wrong_type"],
            "agent_restarts": self.snmp.counters["agent_restarts"],
            "counter_wraps": self.snmp.rates.wraps,
            "counter_resets": self.snmp.rates.backwards,
            "sip_requests": self.sip.counters["requests"],
            "sip_answers": self.sip.counters["answers"],
            "sip_timeouts": self.sip.counters["timeouts"],
            "traps": self.traps["traps"],
            "traps_rejected": self.traps["rejected"],
            "traps_unkept": self.traps["unkept"],
            "trap_drops": self.trap_listener.kernel_drops() if self.trap_listener else 0,
            "buffered": len(self.outbox.buffer),
            "dropped": self.outbox.buffer.dropped,
            "refused": self.outbox.uplink.refused,
            "uptime_s": round(time.monotonic() - self._started),
        }

    def report_health(self) -> None:
        """Queue the probe's own reading."""
        self.outbox.reading(PROBE_CLASS, self.config.probe_id, self._clock(), dict(self.health()))
