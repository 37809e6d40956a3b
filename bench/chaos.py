"""A chaos soak: two `ioc run` nodes on PostgreSQL, a real Mosquitto and influxd, devices
reporting at a steady rate with doors opening and closing, while the nodes are killed and
frozen and the broker, PostgreSQL and influxd are restarted or paused, one at a time and
overlapping. At the end it checks and prints, as a history:

  - every message the broker acknowledged to a device is stored in InfluxDB;
  - every door opened raised exactly one alert, raised and resolved, and no other alert;
  - every notification (alert, kind) reached the webhook receiver once by its key, and how
    many duplicates a receiver ignoring keys would have shown.

A failing run keeps its directory (logs of every node, the broker, the database) and its
history for replay. Not yet thrown: a network cut between a node and the broker (a namespace
with iptables), SMTP, and the wall's stream clients.

Usage: python bench/chaos.py [--seconds 600] [--seed 1] [--lease 5]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from ioc.broker import MosquittoProcess  # noqa: E402
from ioc.domain import AlertState  # noqa: E402
from tests.support.cluster import DEVICES, Cluster, Devices  # noqa: E402
from tests.support.http_receiver import HttpReceiver  # noqa: E402
from tests.support.influx import InfluxProcess  # noqa: E402
from tests.support.mqtt import wait_until  # noqa: E402
from tests.support.postgres import PostgresProcess  # noqa: E402


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
        self.thrown = Counter[str]()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(self._node_fault, 8, 20), daemon=True),
            threading.Thread(target=self._loop, args=(self._server_fault, 10, 30), daemon=True),
            threading.Thread(target=self._loop, args=(self._door, 2, 6), daemon=True),
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


def _stored(cluster: Cluster) -> set[tuple[str, int]]:
    rows = cluster.influxd.query(
        'SELECT "door_open" FROM "bts" GROUP BY "device_id"', cluster.influx_db
    )
    return {
        (series["tags"]["device_id"], int(row[0]))  # type: ignore[index]
        for series in rows
        for row in series["values"]  # type: ignore[union-attr]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lease", type=float, default=5.0, help="IOC_LEASE_S")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="ioc-chaos-"))
    postgres, influx = PostgresProcess(), InfluxProcess(root / "influx")
    broker, receiver = MosquittoProcess(root / "mosquitto"), HttpReceiver()
    postgres.start()
    influx.start()
    broker.start()
    receiver.start()
    cluster = Cluster(root, postgres, broker, influx, receiver, lease_s=args.lease)
    history = History()
    failed: list[str] = []
    try:
        cluster.start("a")
        wait_until(lambda: cluster.leader("a") == "a", 60, "a leading")
        devices = Devices(broker.port)
        cluster.start("b")
        wait_until(lambda: cluster.node("b", "b").get("alive") is True, 60, "b standing by")
        chaos = Chaos(cluster, broker, postgres, influx, devices, history, rng, args.lease)
        history.say(f"chaos for {args.seconds:g} s (seed {args.seed}, lease {args.lease:g} s)")
        chaos.start()
        time.sleep(args.seconds)
        chaos.stop()
        history.say("chaos over: every node running, waiting for the cluster to settle")
        for node in "ab":
            if not cluster.nodes[node].running:
                cluster.start(node)
        wait_until(lambda: cluster.leader("a") in ("a", "b"), 60, "a leader")
        time.sleep(3 * args.lease)  # doors closed for long enough to be judged closed
        acked = devices.stop()
        failed += _check(cluster, receiver, chaos, acked, history)
    finally:
        cluster.stop()
        broker.stop()
        influx.stop()
        postgres.remove()
        receiver.stop()
    (root / "history.txt").write_text(
        "".join(f"{t:7.1f}  {what}\n" for t, what in history.events), encoding="utf-8"
    )
    if failed:
        print(f"FAILED: {'; '.join(failed)}\nhistory and logs kept in {root}")
        return 1
    shutil.rmtree(root, ignore_errors=True)
    print("passed: nothing lost, nothing twice")
    return 0


def _check(
    cluster: Cluster, receiver: HttpReceiver, chaos: Chaos, acked: set[tuple[str, int]],
    history: History,
) -> list[str]:  # fmt: skip
    failed = []
    deadline = time.monotonic() + 60
    while not acked <= _stored(cluster) and time.monotonic() < deadline:
        time.sleep(1)
    lost = acked - _stored(cluster)
    alerts = cluster.alerts.list_alerts(limit=100_000)
    doors = Counter(a.device_id for a in alerts if a.rule_id == "bts.door_open")
    others = Counter(a.rule_id for a in alerts if a.rule_id != "bts.door_open")
    open_ones = [a.id for a in alerts if a.state is not AlertState.RESOLVED]
    sent = [orjson.loads(r.body) for r in receiver.received]
    by_key = Counter(m["key"] for m in sent)
    by_alert = Counter((m["alert_id"], m["kind"]) for m in sent)
    history.say(f"faults thrown: {dict(chaos.thrown)}; doors opened {sum(chaos.opened.values())}")
    history.say(
        f"messages acknowledged {len(acked):,}, lost {len(lost):,}; alerts {len(alerts)} "
        f"(door {sum(doors.values())}, other {dict(others)}, not resolved {len(open_ones)}); "
        f"notifications {len(sent)}, keys seen twice {sum(1 for n in by_key.values() if n > 1)}, "
        f"(alert, kind) seen twice {sum(1 for n in by_alert.values() if n > 1)}"
    )
    if lost:
        failed.append(f"{len(lost)} acknowledged messages not stored: {sorted(lost)[:5]}...")
    if doors != chaos.opened:
        failed.append(f"door alerts {dict(doors)} for doors opened {dict(chaos.opened)}")
        for device in sorted(d for d in doors | chaos.opened if doors[d] != chaos.opened[d]):
            for alert in (a for a in alerts if a.device_id == device):
                history.say(
                    f"  {device}: alert {alert.id} opened {history.at(alert.opened_at_ms)}, "
                    f"resolved {history.at(alert.resolved_at_ms)}"
                )
                for transition in cluster.alerts.history(alert.id):
                    history.say(
                        f"    {transition.kind} at {history.at(transition.at_ms)} by "
                        f"{transition.actor}"
                    )
    if others:
        failed.append(f"alerts no fault caused: {dict(others)}")
    if open_ones:
        failed.append(f"alerts not resolved: {open_ones[:10]}")
    if any(n > 1 for n in by_key.values()):
        failed.append("a notification's key delivered twice")
    return failed


if __name__ == "__main__":
    sys.exit(main())
