"""End to end: `ioc run` on two nodes against one Mosquitto, one PostgreSQL (private to this
module, so it can be restarted) and one InfluxDB, while devices report and doors open.

The leader is killed with SIGKILL, frozen with SIGSTOP, and the database restarted under it:
the other node leads within the lease plus 5 s; every message the broker acknowledged is
stored; each fault raises exactly one alert; no notification goes out twice; the surviving
node's stream delivers every transition in order across the takeover.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
import urllib3
from paho.mqtt.enums import CallbackAPIVersion

from ioc.broker import MosquittoProcess
from ioc.domain import AlertState, Role, now_ms
from ioc.state import DeadLetterLog, TokenStore
from tests.rules.harness import NORMAL
from tests.support.cluster import (
    DEVICES,
    Cluster,
    Devices,
    Faults,
    Transitions,
    nothing_lost_nothing_twice,
)
from tests.support.http_receiver import HttpReceiver
from tests.support.influx import InfluxProcess
from tests.support.mqtt import wait_until
from tests.support.postgres import PostgresProcess
from tests.support.processes import run_ioc
from tests.support.sse import Stream

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

LEASE_S = 3  # short, for a short test; the default (15 s) is measured in bench/takeover.py
BOUND_S = LEASE_S + 5  # what the issue allows a takeover


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresProcess]:
    server = PostgresProcess()
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoProcess]:
    server = MosquittoProcess(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cluster(
    tmp_path: Path,
    postgres: PostgresProcess,
    broker: MosquittoProcess,
    influxd: InfluxProcess,
    receiver: HttpReceiver,
) -> Iterator[Cluster]:
    nodes = Cluster(tmp_path, postgres, broker, influxd, receiver)
    yield nodes
    nodes.stop()
    influxd.query(f'DROP DATABASE "{nodes.influx_db}"')


def _start_both(cluster: Cluster, broker: MosquittoProcess) -> Devices:
    """Node a leading, the devices reporting, then node b standing by. The devices start as
    soon as a leads: its rules call a device silent that has not reported within the absence
    window, and on a loaded machine b's start-up alone can take that long."""
    cluster.start("a")
    wait_until(lambda: cluster.leader("a") == "a", 60, "a leading")
    devices = Devices(broker.port)
    cluster.start("b")
    wait_until(lambda: cluster.node("b", "b").get("alive") is True, 60, "b standing by")
    return devices


def _takeover(cluster: Cluster, dead: str, survivor: str) -> float:
    """Seconds from the leader's death until the survivor serves itself as leader."""
    killed_at = time.monotonic()
    try:
        wait_until(lambda: cluster.leader(survivor) == survivor, BOUND_S + 5, "")
    except AssertionError:
        with cluster.engine.connect() as connection:  # who holds what in the database
            sessions = connection.exec_driver_sql(
                "SELECT pid, state, wait_event_type, wait_event, left(query, 200) "
                "FROM pg_stat_activity WHERE datname = current_database()"
            ).all()
        listed = "\n".join(str(tuple(row)) for row in sessions)
        raise AssertionError(f"{survivor} not leading\n{listed}\n{cluster.logs()}") from None
    return time.monotonic() - killed_at


def _in_order_and_complete(cluster: Cluster, seen: list[dict[str, object]]) -> None:
    """The stream gave every transition the log holds between its first and last, in order."""
    ids = [int(e["event_id"]) for e in seen]  # type: ignore[call-overload]
    assert ids == sorted(ids) and len(ids) == len(set(ids)), ids
    logged = [e.event_id for e in cluster.alerts.events_after(ids[0] - 1, 10_000)]
    assert ids == [i for i in logged if i <= ids[-1]]


def _kill_the_leader(
    cluster: Cluster, faults: Faults, leader: str, survivor: str, device: str, back_at_once: bool
) -> float:
    """SIGKILL the leader while `device`'s door is open and another opens and closes before
    the survivor leads; the takeover's seconds. The dead node comes back at once (resuming
    its own session) or only once the new leader adopted its session."""
    transitions = Transitions(cluster.api(survivor), cluster.token)
    faults.open(device)  # open across the takeover
    faults.raised(device)
    cluster.nodes[leader].kill()
    gap = DEVICES[DEVICES.index(device) + 1]
    faults.open(gap)  # opened and closed while nobody leads
    faults.reported(gap)
    faults.close(gap)
    took = _takeover(cluster, leader, survivor)
    faults.told(device)  # by whichever node led when its group wait ended
    faults.close(device)
    faults.resolved(device)
    faults.resolved(gap)
    faults.whole("bts08")  # after the takeover
    if not back_at_once:
        wait_until(
            lambda: cluster.node(survivor, leader).get("session_open") is False,
            3 * LEASE_S + 10, f"{leader}'s session adopted",
        )  # fmt: skip
    transitions.close()
    _in_order_and_complete(cluster, transitions.events)
    assert {e["alert"]["device_id"] for e in transitions.events} >= {device, gap, "bts08"}  # type: ignore[index]
    cluster.start(leader)
    wait_until(lambda: cluster.node(leader, leader).get("alive") is True, 60, f"{leader} back")
    return took


def test_the_leader_killed_three_times_loses_nothing_and_repeats_nothing(
    cluster: Cluster, broker: MosquittoProcess, receiver: HttpReceiver
) -> None:
    devices = _start_both(cluster, broker)
    status = run_ioc("status", env=cluster.env)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].startswith("leader: a (term 1) since ")
    assert [line.split()[:2] for line in lines[2:]] == [["a", "leader"], ["b", "standby"]]
    metrics = {n: urllib3.request("GET", f"{cluster.api(n)}/metrics").data.decode() for n in "ab"}
    assert "ioc_cluster_leading 1.0" in metrics["a"] and "ioc_cluster_term 1.0" in metrics["a"]
    assert "ioc_cluster_leading 0.0" in metrics["b"]
    faults = Faults(cluster, devices, receiver)
    try:
        faults.whole("bts01")  # before any takeover
        takeovers = [
            _kill_the_leader(cluster, faults, "a", "b", "bts02", back_at_once=False),
            _kill_the_leader(cluster, faults, "b", "a", "bts04", back_at_once=True),
            _kill_the_leader(cluster, faults, "a", "b", "bts06", back_at_once=False),
        ]
    finally:
        acked = devices.stop()
    assert all(t <= BOUND_S for t in takeovers), (takeovers, cluster.logs())
    nothing_lost_nothing_twice(cluster, faults, receiver, acked)


def test_a_frozen_leader_stops_acting_and_rejoins_as_standby(
    cluster: Cluster, broker: MosquittoProcess, receiver: HttpReceiver
) -> None:
    devices = _start_both(cluster, broker)
    faults = Faults(cluster, devices, receiver)
    frozen = cluster.nodes["a"]
    try:
        faults.open("bts02")
        faults.raised("bts02")
        os.kill(frozen.pid, signal.SIGSTOP)  # past its lease: it cannot know
        faults.open("bts03")
        faults.reported("bts03")
        faults.close("bts03")
        took = _takeover(cluster, "a", "b")
        wait_until(
            lambda: cluster.node("b", "a").get("session_open") is False,
            3 * LEASE_S + 10, "a's session adopted while it is frozen",
        )  # fmt: skip
        os.kill(frozen.pid, signal.SIGCONT)
        # It wakes believing nothing happened: it must stand down, not fight b for its
        # sessions, and come back as a standby, its own ingest session resumed.
        wait_until(lambda: "a no longer leads" in frozen.log.read_text(), 10, "a standing down")
        wait_until(lambda: cluster.node("b", "a").get("alive") is True, 10, "a reporting")
        faults.told("bts02")
        faults.close("bts02")
        faults.resolved("bts02")
        faults.resolved("bts03")
        faults.whole("bts04")
        assert cluster.leader("a") == cluster.leader("b") == "b"
    finally:
        os.kill(frozen.pid, signal.SIGCONT)  # a failed wait must not leave it frozen to stop
        acked = devices.stop()
    assert took <= BOUND_S
    nothing_lost_nothing_twice(cluster, faults, receiver, acked)


def test_the_state_database_restarted_under_load(
    cluster: Cluster, broker: MosquittoProcess, receiver: HttpReceiver, postgres: PostgresProcess
) -> None:
    devices = _start_both(cluster, broker)
    faults = Faults(cluster, devices, receiver)
    try:
        faults.open("bts02")
        faults.raised("bts02")
        postgres.stop()
        faults.open("bts03")  # while the database is away
        faults.reported("bts03")
        postgres.start()
        # Both nodes ride it out; leadership settles on one of them.
        wait_until(lambda: cluster.leader("a") in ("a", "b"), BOUND_S + 5, "a leader again")
        assert cluster.leader("a") == cluster.leader("b")
        assert cluster.nodes["a"].running and cluster.nodes["b"].running
        faults.raised("bts03")
        faults.told("bts02")
        faults.told("bts03")
        faults.close("bts02")
        faults.close("bts03")
        faults.resolved("bts02")
        faults.resolved("bts03")
        faults.whole("bts04")
        # A clean stop of the leader hands the lease and its share of ingest over at once.
        leader = cluster.leader("a")
        other = "b" if leader == "a" else "a"
        assert cluster.nodes[str(leader)].stop() == 0
        wait_until(lambda: cluster.leader(other) == other, LEASE_S, f"{other} leading at once")
        gone = cluster.node(other, str(leader))
        assert (gone["alive"], gone["session_open"]) == (False, False)
        faults.whole("bts05")
    finally:
        acked = devices.stop()
    nothing_lost_nothing_twice(cluster, faults, receiver, acked)
    # The database away is a state ioc reports (503s, warnings), not a crash it logs.
    logs = {p.name: p.read_text(errors="replace") for p in cluster.tmp_path.glob("*.log")}
    assert not [name for name, text in logs.items() if "Traceback" in text], cluster.logs()


def test_the_broker_restarted_under_load_loses_nothing_it_acknowledged(
    cluster: Cluster, broker: MosquittoProcess, receiver: HttpReceiver
) -> None:
    """Mosquitto 2.0 does not restore shared subscriptions from its persistence file: what the
    devices publish between its restart and ingest subscribing again reaches only the leader's
    own session, and must be stored all the same."""
    devices = _start_both(cluster, broker)
    faults = Faults(cluster, devices, receiver)
    early: set[tuple[str, int]] = set()
    try:
        faults.whole("bts02")
        for restart in range(3):
            broker.restart()
            # At once, before ioc's consumers are back (they retry after a second or more):
            # these reach only sessions whose subscriptions the broker restored.
            early |= _publish_at_once(broker.port, f"test-early-{restart}", "bts09")
            wait_until(
                functools.partial(lambda n: devices.acked() >= n, devices.acked() + 60), 30,
                "devices reporting again",
            )  # fmt: skip
        faults.whole("bts03")
    finally:
        acked = devices.stop()
    assert len(early) == 30
    nothing_lost_nothing_twice(cluster, faults, receiver, acked | early)


def test_a_node_and_its_adopter_racing_for_its_session_lose_nothing(
    cluster: Cluster, broker: MosquittoProcess, receiver: HttpReceiver
) -> None:
    """The race a first chaos run lost messages in: node b, frozen past its lease, is thawed
    just as the leader adopts its ingest session, and the broker restarts in the middle; then
    the same in the other order. The two take the session from each other; whichever keeps it,
    every message the broker acknowledged is stored, and a fault meanwhile is one alert."""
    devices = _start_both(cluster, broker)
    faults = Faults(cluster, devices, receiver)
    standby, leader = cluster.nodes["b"], cluster.nodes["a"]

    def adoptions() -> int:
        return leader.log.read_text(errors="replace").count("adopting its ingest session")

    try:
        for thaw_first in (True, False):
            before = adoptions()
            os.kill(standby.pid, signal.SIGSTOP)
            faults.open("bts02")
            adopted = functools.partial(lambda n: adoptions() > n, before)
            wait_until(adopted, 30, "the leader adopting b's session")
            if thaw_first:
                os.kill(standby.pid, signal.SIGCONT)
                broker.restart()
            else:
                broker.restart()
                os.kill(standby.pid, signal.SIGCONT)
            faults.raised("bts02")
            faults.close("bts02")
            faults.resolved("bts02")
            wait_until(lambda: cluster.node("a", "b").get("alive") is True, 30, "b back")
        faults.whole("bts03")
    finally:
        acked = devices.stop()
    nothing_lost_nothing_twice(cluster, faults, receiver, acked)


def _publish_at_once(port: int, client_id: str, device: str) -> set[tuple[str, int]]:
    """Ten reports of `device` published and acknowledged as soon as the broker listens."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.connect("127.0.0.1", port)
    client.loop_start()
    sent = []
    for n in range(10):
        ts = now_ms() - 10_000 + n  # apart from the devices' own reports
        payload = orjson.dumps({"ts": ts, "metrics": NORMAL["bts"] | {"door_open": False}})
        sent.append((ts, client.publish(f"ioc/bts/{device}/telemetry", payload, qos=1)))
    for _ts, info in sent:
        info.wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    return {(device, ts) for ts, info in sent if info.is_published()}


RELOADED_RULE = """rules:
  - id: bts.reload_probe
    title: {vi: "Cửa đóng", en: "Door shut"}
    select: {class: bts, devices: [bts09]}
    condition: {kind: threshold, metric: door_open, equals: false}
    severity: warning
    probable_cause: enclosureDoorOpen
    event_type: physicalViolation
    message: {vi: "{device_name}: cửa đóng", en: "{device_name}: door shut"}
"""


def test_a_reload_asked_of_one_node_reaches_every_node(
    cluster: Cluster, broker: MosquittoProcess, receiver: HttpReceiver
) -> None:
    devices = _start_both(cluster, broker)
    try:

        def rule_ids(node: str) -> list[str]:
            url = f"{cluster.api(node)}/api/v1/rules?token={cluster.token}"
            return orjson.loads(urllib3.request("GET", url, timeout=2).data)["ids"]

        assert "bts.reload_probe" not in rule_ids("a") + rule_ids("b")
        # A new rule, and the notification file routing it: asked of the standby only.
        rules_dir = Path(cluster.env["IOC_RULES_DIR"])
        (rules_dir / "reload.yaml").write_text(RELOADED_RULE, encoding="utf-8")
        notify = Path(cluster.env["IOC_NOTIFY_CONFIG"])
        routed = "- bts.door_open\n    - bts.reload_probe"
        notify.write_text(notify.read_text().replace("- bts.door_open", routed), encoding="utf-8")
        env_b = cluster.env | {"IOC_DATA_DIR": str(cluster.tmp_path / "data-b")}
        asked = run_ioc("rules", "reload", env=env_b)
        assert asked.returncode == 0, asked.stderr
        assert "to reload 25 rules" in asked.stdout, asked.stdout
        # Both APIs list it; the leader's rules raise it and its notifier tells of it.
        for node in "ab":
            listing = functools.partial(lambda n: "bts.reload_probe" in rule_ids(n), node)
            wait_until(listing, 10, f"{node} listing it")

        def probe_alerts() -> list[int]:
            alerts = cluster.alerts.list_alerts(device_ids=["bts09"], limit=10)
            return [a.id for a in alerts if a.rule_id == "bts.reload_probe"]

        wait_until(lambda: len(probe_alerts()) == 1, 15, "the leader raising the new rule")

        def told() -> bool:
            sent = [orjson.loads(r.body) for r in receiver.received]
            return any(m["alert_id"] == probe_alerts()[0] and m["kind"] == "fired" for m in sent)

        wait_until(told, 15, "the leader's notifier telling of it under the new file")
        logs = {node: cluster.nodes[node].log.read_text() for node in "ab"}
        assert all("25 rules and notify.yaml in force" in log for log in logs.values()), logs
    finally:
        devices.stop()


def test_a_device_added_through_one_node_is_judged_at_once_and_a_retired_one_stops(
    cluster: Cluster, broker: MosquittoProcess
) -> None:
    """No restart: the standby's API records the change, both nodes' ingest and the leader's
    rules put it in force within a second or two, and so with a reform recorded from the
    command line. Ingest refuses devices not in the inventory,
    so what it stores and refuses shows which inventory each node's ingest has in force."""
    cluster.env["IOC_UNKNOWN_DEVICES"] = "reject"
    devices = _start_both(cluster, broker)
    _, admin = TokenStore(cluster.engine).create(Role.ADMIN, "chi", now_ms())
    newcomer = Devices(broker.port, ["bts10"], "test-newcomer")
    newcomer.doors["bts10"] = True  # reporting, door open, before it is in the inventory
    wall = Stream(f"{cluster.api('a')}/api/v1/stream?token={cluster.token}")  # node a's wall
    try:
        wall.until("figures")
        site = {"id": "bts10", "class": "bts", "area": "C1", "name": "BTS mới", "lat": 16.81,
                "lon": 107.11}  # fmt: skip
        added = urllib3.request(
            "PUT", f"{cluster.api('b')}/api/v1/inventory/devices/bts10?why=new+site",
            json=site, headers={"Authorization": f"Bearer {admin}"}, timeout=10,
        )  # fmt: skip
        assert added.status == 200, added.data
        assert orjson.loads(added.data)["version"] == 2
        # The other node's wall is told to reload its snapshots, which now show the site.
        assert wall.until("reset", limit=500)[-1].data["reason"] == "the inventory changed: reload"
        geojson = urllib3.request(
            "GET", f"{cluster.api('a')}/api/v1/map.geojson?token={cluster.token}", timeout=5
        )
        assert '"id":"bts10"' in geojson.data.decode(), geojson.data[:300]

        def door_alerts() -> list[AlertState]:
            alerts = cluster.alerts.list_alerts(device_ids=["bts10"], limit=10)
            return [a.state for a in alerts if a.rule_id == "bts.door_open"]

        wait_until(lambda: door_alerts() == [AlertState.FIRING], 15, "the leader alerting on it")
        stored = 'SELECT count(*) FROM "bts" WHERE "device_id" = \'bts10\''
        wait_until(lambda: bool(cluster.influxd.query(stored, cluster.influx_db)), 10, "stored")
        retired = urllib3.request(
            "DELETE", f"{cluster.api('a')}/api/v1/inventory/devices/bts10?why=dismantled",
            headers={"Authorization": f"Bearer {admin}"}, timeout=10,
        )  # fmt: skip
        assert retired.status == 200, retired.data
        wait_until(lambda: door_alerts() == [AlertState.RESOLVED], 15, "its alert cleared")
        retired_at = now_ms()
        refused = DeadLetterLog(cluster.engine, 1000)
        wait_until(
            lambda: any(d.reason == "unknown_device" and "bts10" in d.topic
                        and d.received_ms > retired_at + 1000 for d in refused.recent(100)),
            10, "its reports refused by ingest again",
        )  # fmt: skip
        # The 2025 reform, recorded from the command line: both nodes place the sites anew.
        reform = cluster.tmp_path / "reform.yaml"
        reform.write_text(
            "version: 1\nname: Nghị quyết (thử)\neffective: 2026-01-01\ndissolve: [district]\n"
            "merges:\n  - into: {id: C9, name: Xã Chín, kind: commune, parent: P}\n"
            "    from: [C1]\n", encoding="utf-8",
        )  # fmt: skip
        reformed = run_ioc("inventory", "reform", str(reform), env=cluster.env)
        assert reformed.returncode == 0, reformed.stderr
        assert (
            "inventory version 4 in force, in effect from 2026-01-01 00:00+07:00" in reformed.stdout
        )

        def placed(node: str) -> str:
            url = f"{cluster.api(node)}/api/v1/devices/bts01?token={cluster.token}"
            return str(
                orjson.loads(urllib3.request("GET", url, timeout=5).data)["device"]["area_id"]
            )

        for node in "ab":
            wait_until(functools.partial(lambda n: placed(n) == "C9", node), 10, f"{node} moved")
        logs = {node: cluster.nodes[node].log.read_text() for node in "ab"}
        assert "inventory version 2 recorded by chi" in logs["b"], logs["b"][-2000:]
        assert "inventory version 3 recorded by chi" in logs["a"], logs["a"][-2000:]
        assert "inventory version 2 in force" in logs["a"], logs["a"][-2000:]
        assert "inventory version 3 in force" in logs["b"], logs["b"][-2000:]
    finally:
        wall.close()
        newcomer.stop()
        devices.stop()
