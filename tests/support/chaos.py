"""A chaos soak (bench/chaos.py, and a short one in the suite): two `ioc run` nodes on
PostgreSQL, a real Mosquitto and influxd, devices reporting at a steady rate with doors opening
and closing and smoke alarms going off (one-off events), while the nodes are killed and frozen,
the broker, PostgreSQL and influxd are restarted or paused, and node b, which runs in a network
namespace of its own reaching every server through a relay, is cut off the broker (iptables
drops its segments both ways: a blackhole, not a refusal), one at a time and overlapping.
Notifications go to a webhook receiver and a real SMTP server; two operators' walls follow the
live stream, resuming on whichever node answers. At the end it checks and prints, as a history:

  - every message the broker acknowledged to a device (reading or smoke alarm) is stored;
  - every door opened and every smoke alarm raised exactly one alert, raised and resolved, and
    no other alert was raised;
  - every notification the outbox sent reached its receiver (the webhook receiver by key, the
    SMTP server by Message-ID), nothing else did, and every alert told of was told of its end;
    how many messages a receiver ignoring keys would have shown twice;
  - every wall's stream gave every transition in order, with no gap, between resets.

Needs root (the namespace). The history and every log stay in the run's directory.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

import orjson
from aiosmtpd.smtp import Envelope

from ioc.broker import MosquittoProcess
from ioc.domain import Alert, AlertState, NotificationStatus
from ioc.state import Outbox
from tests.support.cluster import DEVICES, SMOKE_CLEARS_S, Cluster, Devices, Wall
from tests.support.http_receiver import HttpReceiver
from tests.support.influx import InfluxProcess
from tests.support.mqtt import wait_until
from tests.support.netns import NetHost
from tests.support.postgres import PostgresProcess
from tests.support.smtp import private_smtp_server


class History:
    """What happened, when (seconds from the start), in order."""

    def __init__(self) -> None:
        self._began = time.monotonic()
        self.began_ms = time.time_ns() // 1_000_000
        self._lock = threading.Lock()
        self.events: list[tuple[float, str]] = []

    def at(self, ms: int | None) -> str:
        """An epoch-ms time as seconds of this history."""
        return "-" if ms is None else f"{(ms - self.began_ms) / 1000:.1f}"

    def say(self, what: str) -> None:
        with self._lock:
            self.events.append((time.monotonic() - self._began, what))
        print(f"{time.monotonic() - self._began:7.1f}  {what}", flush=True)


class Chaos:
    """The faults, thrown from three threads until `stop`: the nodes, the servers, the doors."""

    def __init__(
        self, cluster: Cluster, broker: MosquittoProcess, postgres: PostgresProcess,
        influx: InfluxProcess, devices: Devices, history: History, rng: random.Random,
        lease_s: float,
    ) -> None:  # fmt: skip
        self.cluster, self.broker, self.postgres, self.influx = cluster, broker, postgres, influx
        self.devices, self.history, self.rng, self.lease_s = devices, history, rng, lease_s
        self.opened = Counter[str]()
        self.alarms = Counter[str]()
        self._last_alarm: dict[str, float] = {}
        self.thrown = Counter[str]()
        self._stop = threading.Event()
        loops = [(self._node_fault, 8, 20), (self._server_fault, 10, 30), (self._door, 2, 6),
                 (self._smoke, 4, 12), (self._cut, 15, 40)]  # fmt: skip
        self._threads = [
            threading.Thread(target=self._loop, args=loop, daemon=True) for loop in loops
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _loop(self, fault: Callable[[], None], least_s: float, most_s: float) -> None:
        while not self._stop.wait(self.rng.uniform(least_s, most_s)):
            try:
                fault()
            except Exception as exc:  # a fault that failed to be thrown is history too
                self.history.say(f"fault failed: {exc!r}")

    def _node_fault(self) -> None:
        node = self.rng.choice("ab")
        process = self.cluster.nodes[node]
        if not process.running:
            self.cluster.start(node)
            self.history.say(f"node {node} started again")
            return
        if self.rng.random() < 0.5:
            process.kill()
            self.thrown["kill"] += 1
            self.history.say(f"node {node} killed (SIGKILL)")
            self._stop.wait(self.rng.uniform(1, 5))
            self.cluster.start(node)
            self.history.say(f"node {node} started again")
        else:
            frozen_s = self.rng.uniform(0.5, 2.5) * self.lease_s
            os.kill(process.pid, signal.SIGSTOP)
            self.thrown["freeze"] += 1
            self.history.say(f"node {node} frozen for {frozen_s:.1f} s (SIGSTOP)")
            self._stop.wait(frozen_s)
            os.kill(process.pid, signal.SIGCONT)
            self.history.say(f"node {node} thawed (SIGCONT)")

    def _server_fault(self) -> None:
        which = self.rng.choice(["broker", "postgres", "influx"])
        self.thrown[which] += 1
        if which == "broker":
            self.history.say("broker restarted")
            self.broker.restart()
        elif which == "postgres":
            self.history.say("PostgreSQL stopped")
            self.postgres.stop()
            self._stop.wait(self.rng.uniform(1, 4))
            self.postgres.start()
            self.history.say("PostgreSQL started")
        else:
            assert self.influx.process is not None
            paused_s = self.rng.uniform(2, 8)
            os.kill(self.influx.process.pid, signal.SIGSTOP)
            self.history.say(f"influxd paused for {paused_s:.1f} s")
            self._stop.wait(paused_s)
            os.kill(self.influx.process.pid, signal.SIGCONT)
            self.history.say("influxd resumed")

    def _cut(self) -> None:
        """Node b cut off the broker (and nothing else) for a while."""
        host = self.cluster.hosts["b"]
        cut_s = self.rng.uniform(0.5, 3) * self.lease_s
        host.block(self.broker.port)
        self.thrown["cut"] += 1
        self.history.say(f"node b cut off the broker for {cut_s:.1f} s (iptables)")
        self._stop.wait(cut_s)
        host.unblock()
        self.history.say("node b reaches the broker again")

    def _smoke(self) -> None:
        """A smoke alarm on a device that had none for a minute (two within the alert's
        auto-resolve would rightly be one alert)."""
        now = time.monotonic()
        quiet = [d for d in DEVICES if now - self._last_alarm.get(d, -1e9) > 60]
        if not quiet:
            return
        device = self.rng.choice(quiet)
        self._last_alarm[device] = now
        self.alarms[device] += 1
        self.devices.smoke(device)
        self.history.say(f"smoke alarm at {device}")

    def _door(self) -> None:
        device = self.rng.choice(DEVICES)
        if self.devices.doors[device]:
            return
        self.devices.doors[device] = True
        self.opened[device] += 1
        self.history.say(f"door of {device} opened")
        self._stop.wait(self.rng.uniform(3, 8))
        self.devices.doors[device] = False
        self.history.say(f"door of {device} closed")


def _stored(cluster: Cluster, query: str) -> set[tuple[str, int]]:
    rows = cluster.influxd.query(query, cluster.influx_db)
    return {
        (series["tags"]["device_id"], int(row[0]))  # type: ignore[index]
        for series in rows
        for row in series["values"]  # type: ignore[union-attr]
    }


READINGS = 'SELECT "door_open" FROM "bts" GROUP BY "device_id"'
ALARMS = 'SELECT "data" FROM "event" WHERE "type" = \'smoke_alarm\' GROUP BY "device_id"'


def soak(root: Path, seconds: float, seed: int, lease_s: float, host_index: int = 50) -> bool:
    """Servers, two nodes (b in a namespace of its own) and the faults for `seconds`, then the
    checks; whether it passed. The history is printed and kept in `root` (history.txt), with
    every log, whatever the outcome."""
    rng = random.Random(seed)
    history = History()
    failed: list[str] = []
    with contextlib.ExitStack() as servers:
        postgres, influx = PostgresProcess(), InfluxProcess(root / "influx")
        broker, receiver = MosquittoProcess(root / "mosquitto"), HttpReceiver()
        host = NetHost(host_index)
        servers.callback(host.remove)
        host.create()
        port, mailbox, certificate = servers.enter_context(
            private_smtp_server(root, also_at=(host.local,))
        )
        for server, stop in ((postgres, postgres.remove), (influx, influx.stop),
                             (broker, broker.stop), (receiver, receiver.stop)):  # fmt: skip
            servers.callback(stop)
            server.start()
        cluster = Cluster(
            root, postgres, broker, influx, receiver, lease_s=lease_s, smtp=(port, certificate)
        )
        servers.callback(cluster.stop)
        cluster.place("b", host)
        cluster.start("a")
        wait_until(lambda: cluster.leader("a") == "a", 60, "a leading")
        devices = Devices(broker.port)
        cluster.start("b")
        wait_until(lambda: cluster.node("b", "b").get("alive") is True, 60, "b standing by")
        walls = [Wall(cluster, cluster.token) for _ in range(2)]
        chaos = Chaos(cluster, broker, postgres, influx, devices, history, rng, lease_s)
        history.say(f"chaos for {seconds:g} s (seed {seed}, lease {lease_s:g} s)")
        chaos.start()
        time.sleep(seconds)
        chaos.stop()
        history.say("chaos over: every node running, waiting for the cluster to settle")
        host.unblock()
        for node in "ab":
            if not cluster.nodes[node].running:
                cluster.start(node)
        wait_until(lambda: cluster.leader("a") in ("a", "b"), 60, "a leader")
        # Doors closed and smoke cleared for long enough to be judged so, and told.
        time.sleep(max(3 * lease_s, SMOKE_CLEARS_S + 5))
        acked = devices.stop()
        failed += _check(cluster, receiver, mailbox.messages, chaos, acked, devices, history)
        for wall in walls:
            wall.close()
            gaps = wall.gaps(cluster.alerts)
            history.say(
                f"a wall: {sum(len(s) for s in wall.stretches)} transitions, resumed "
                f"{wall.resumed} times, {len(wall.stretches) - 1} resets, gaps {gaps or 'none'}"
            )
            failed += gaps
    # Faults are states ioc reports (warnings, 503s, blind spells), not crashes it logs.
    logs = {p.name: p.read_text("utf-8", "replace") for p in root.glob("*.log")}
    crashed = sorted(name for name, text in logs.items() if "Traceback" in text)
    if crashed:
        failed.append(f"tracebacks in {', '.join(crashed)}")
    for failure in failed:
        history.say(f"FAILED: {failure}")
    (root / "history.txt").write_text(
        "".join(f"{t:7.1f}  {what}\n" for t, what in history.events), encoding="utf-8"
    )
    return not failed


def _check(
    cluster: Cluster, receiver: HttpReceiver, mails: list[Envelope], chaos: Chaos,
    acked: set[tuple[str, int]], devices: Devices, history: History,
) -> list[str]:  # fmt: skip
    failed = []
    outbox = Outbox(cluster.engine)
    waiting = [NotificationStatus.QUEUED, NotificationStatus.SENDING]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        acked <= _stored(cluster, READINGS)
        and devices.alarms_acked <= _stored(cluster, ALARMS)
        and not outbox.listing(waiting, limit=1)
    ):
        time.sleep(1)
    done = (NotificationStatus.SENT, NotificationStatus.SKIPPED)  # skipped: resolved meanwhile
    unsettled = [f"{n.key} {n.status}" for n in outbox.listing(
        [s for s in NotificationStatus if s not in done], limit=20)]  # fmt: skip
    lost = acked - _stored(cluster, READINGS)
    lost_alarms = devices.alarms_acked - _stored(cluster, ALARMS)
    alerts = cluster.alerts.list_alerts(limit=100_000)
    doors = Counter(a.device_id for a in alerts if a.rule_id == "bts.door_open")
    smoke = Counter(a.device_id for a in alerts if a.rule_id == "bts.smoke")
    others = Counter(a.rule_id for a in alerts if a.rule_id not in ("bts.door_open", "bts.smoke"))
    open_ones = [a.id for a in alerts if a.state is not AlertState.RESOLVED]
    hooks = [orjson.loads(r.body) for r in receiver.received]
    hooked = Counter(m["key"] for m in hooks)
    mailed = Counter(_mail_key(m) for m in mails)
    told = {channel: {tuple(k.split(":")[:2]) for k in keys}
            for channel, keys in (("webhook", hooked), ("email", mailed))}  # fmt: skip
    history.say(
        f"faults thrown: {dict(chaos.thrown)}; doors opened {chaos.opened.total()}, "
        f"smoke alarms {chaos.alarms.total()}"
    )
    history.say(
        f"messages acknowledged {len(acked):,}, lost {len(lost):,}; smoke alarms acknowledged "
        f"{len(devices.alarms_acked)}, lost {len(lost_alarms)}; alerts {len(alerts)} (door "
        f"{doors.total()}, smoke {smoke.total()}, other {dict(others)}, not resolved "
        f"{len(open_ones)})"
    )
    history.say(
        f"notifications: webhook {len(hooks)} ({len(hooked)} keys, "
        f"{sum(n - 1 for n in hooked.values())} seen again by a receiver ignoring keys), "
        f"e-mail {len(mails)} ({len(mailed)} Message-IDs, "
        f"{sum(n - 1 for n in mailed.values())} seen again by a reader ignoring them)"
    )
    if lost or lost_alarms:
        failed.append(f"acknowledged but not stored: {len(lost)} readings "
                      f"{sorted(lost)[:5]}, {len(lost_alarms)} smoke alarms")  # fmt: skip
    # An alarm published while the devices' client was away from the broker reached it (and
    # the store) only if the client sent it again on reconnecting: an alert is owed for each
    # alarm that reached the broker, which is each one stored (every acknowledged one is).
    alarmed = Counter(device for device, _ts in _stored(cluster, ALARMS))
    for rule, made, raised in (("bts.door_open", chaos.opened, doors),
                               ("bts.smoke", alarmed, smoke),
                               ("other", Counter[str](), others)):  # fmt: skip
        if raised == made:
            continue
        failed.append(f"{rule} alerts {dict(raised)} for faults {dict(made)}")
        for key in sorted(k for k in raised | made if raised[k] != made[k]):
            for alert in _at_fault(alerts, rule, key):
                history.say(f"  {alert.device_id}: {alert.rule_id} {alert.id} opened "
                            f"{history.at(alert.opened_at_ms)}, resolved "
                            f"{history.at(alert.resolved_at_ms)}")  # fmt: skip
                for transition in cluster.alerts.history(alert.id):
                    history.say(f"    {transition.kind} at {history.at(transition.at_ms)} "
                                f"by {transition.actor}")  # fmt: skip
    if unsettled:
        failed.append(f"notifications not sent: {unsettled}")
    if open_ones:
        failed.append(f"alerts not resolved: {open_ones[:10]}")
    # What the outbox says it sent reached its receiver, and nothing else did. (A channel may
    # rightly skip a notice that went stale before its turn: an alert resolved meanwhile.)
    listed = outbox.listing(limit=100_000)
    sent = {n.key for n in listed if n.status is NotificationStatus.SENT}
    received = set(hooked) | set(mailed)
    if sent - received:
        failed.append(f"sent but never received: {sorted(sent - received)[:10]}")
    if received - {n.key for n in listed}:
        failed.append(f"received but never planned: {sorted(received - sent)[:10]}")
    for channel, pairs in told.items():
        fired = {alert for alert, kind in pairs if kind == "fired"}
        ended = {alert for alert, kind in pairs if kind == "resolved"}
        if fired - ended:
            failed.append(f"{channel}: told of, not of their end: {sorted(fired - ended)[:10]}")
    return failed


def _at_fault(alerts: list[Alert], rule: str, key: str) -> list[Alert]:
    """A door's or smoke alarm's alerts by device (`key`); the others by rule."""
    if rule == "other":
        return [a for a in alerts if a.rule_id == key]
    return [a for a in alerts if a.rule_id == rule and a.device_id == key]


def _mail_key(mail: Envelope) -> str:
    """The notification key an e-mail carries in its Message-ID (`<key@domain>`, the key's
    colons made dots)."""
    content = mail.content if isinstance(mail.content, bytes) else str(mail.content).encode()
    message_id = BytesParser(policy=policy.default).parsebytes(content)["Message-ID"]
    return str(message_id).strip("<>").rpartition("@")[0].replace(".", ":")
