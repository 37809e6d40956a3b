"""Two `ioc run` nodes, `a` and `b`, on one machine against one broker, one PostgreSQL and one
InfluxDB, and the views a test or a bench needs of them (the cluster tests,
bench/takeover.py and bench/chaos.py): the devices reporting, the faults they are given, and
the check that nothing was lost or doubled."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import urllib3
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text

from ioc.broker import MosquittoProcess, free_port
from ioc.domain import AlertState, Role, now_ms
from ioc.state import AlertRepository, TokenStore, connect_state
from tests.rules.harness import NORMAL, fast_rules
from tests.support.http_receiver import HttpReceiver
from tests.support.influx import InfluxProcess
from tests.support.mqtt import wait_until
from tests.support.postgres import PostgresProcess
from tests.support.processes import IocProcess
from tests.support.sse import Stream

DEVICES = [f"bts{n:02d}" for n in range(1, 10)]


def _inventory(path: Path) -> Path:
    devices = [
        {"id": d, "class": "bts", "area": "C1", "name": f"BTS {d}", "lat": 16.8, "lon": 107.1}
        for d in DEVICES
    ]
    areas = [
        {"id": "P", "name": "Tỉnh Thử", "kind": "province"},
        {"id": "D1", "name": "Huyện Một", "kind": "district", "parent": "P"},
        {"id": "C1", "name": "Xã Một", "kind": "commune", "parent": "D1"},
    ]
    path.write_text(yaml.safe_dump({"version": 1, "areas": areas, "devices": devices}))
    return path


def _notify_file(path: Path, receiver: HttpReceiver) -> Path:
    document = {
        "version": 1,
        "people": [{"id": "an", "name": "An", "contacts": {"webhook": f"{receiver.url}/an"}}],
        "teams": [{"id": "c1", "members": ["an"], "channels": ["webhook"]}],
        "routes": [{"id": "doors", "match": {"rules": ["bts.door_open"]}, "notify": "c1"}],
        "limits": {"group_wait": "1s"},
    }
    path.write_text(yaml.safe_dump(document))
    return path


class Cluster:
    """Nodes `a` and `b` (`ioc run` each), the state database they share, and what the test
    needs to watch them: a viewer token and each node's API."""

    def __init__(
        self,
        tmp_path: Path,
        postgres: PostgresProcess,
        broker: MosquittoProcess,
        influxd: InfluxProcess,
        receiver: HttpReceiver | None = None,
        lease_s: float = 3,
    ) -> None:
        """A database of its own on `postgres`; notifications (webhook) go to `receiver`."""
        database = f"t_{uuid.uuid4().hex[:10]}"
        admin = create_engine(postgres.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        self.state_url = postgres.url.rsplit("/", 1)[0] + f"/{database}"
        self.influx_db = database
        self.influxd = influxd
        self.engine = connect_state(self.state_url)
        self.alerts = AlertRepository(self.engine)
        _, self.token = TokenStore(self.engine).create(Role.VIEWER, "test", now_ms())
        self.tmp_path = tmp_path
        self.env = {
            "IOC_MQTT_URL": broker.url,
            "IOC_INFLUX_URL": influxd.url,
            "IOC_INFLUX_API": "v1",
            "IOC_INFLUX_DB": database,
            "IOC_STATE_URL": self.state_url,
            "IOC_INVENTORY": str(_inventory(tmp_path / "inventory.yaml")),
            "IOC_RULES_DIR": str(fast_rules(tmp_path / "rules", "6s", "3s")),
            "IOC_BATCH_INTERVAL_S": "0.1",
            "IOC_LEASE_S": str(lease_s),
        }
        if receiver is not None:
            self.env |= {
                "IOC_NOTIFY_CONFIG": str(_notify_file(tmp_path / "notify.yaml", receiver)),
                "IOC_NOTIFY_WEBHOOK_SECRET": "cluster-test",
            }
        self.ports = {"a": free_port(), "b": free_port()}
        self.nodes: dict[str, IocProcess] = {}
        self._starts = Counter[str]()

    def start(self, node: str) -> None:
        """`ioc run` as `node` (its log: <node>-<how many times it started>.log)."""
        self._starts[node] += 1
        env = self.env | {
            "IOC_NODE_NAME": node,
            "IOC_API_PORT": str(self.ports[node]),
            "IOC_DATA_DIR": str(self.tmp_path / f"data-{node}"),
        }
        log = self.tmp_path / f"{node}-{self._starts[node]}.log"
        self.nodes[node] = IocProcess(["run", "--status-every", "1"], env, log)

    def api(self, node: str) -> str:
        """The node's API base URL."""
        return f"http://127.0.0.1:{self.ports[node]}"

    def status(self, node: str) -> dict[str, object] | None:
        """/api/v1/cluster as `node` serves it (None while it does not answer)."""
        try:
            response = urllib3.request(
                "GET",
                f"{self.api(node)}/api/v1/cluster?token={self.token}",
                timeout=2,
                retries=False,
            )
        except urllib3.exceptions.HTTPError:
            return None
        return orjson.loads(response.data) if response.status == 200 else None

    def leader(self, asking: str) -> str | None:
        """Which node leads, as `asking` says."""
        status = self.status(asking)
        return None if status is None else status["leader"]  # type: ignore[return-value]

    def node(self, asking: str, name: str) -> dict[str, object]:
        """Node `name` as `asking` lists it ({} if it does not)."""
        status = self.status(asking) or {"nodes": []}
        found = [n for n in status["nodes"] if n["name"] == name]  # type: ignore[attr-defined]
        return found[0] if found else {}

    def logs(self) -> str:
        """The tail of every node's log, for a failure's message."""
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.tmp_path.glob("*.log"))
        )

    def stop(self) -> None:
        """SIGTERM the nodes still running; close the test's connections."""
        for process in self.nodes.values():
            if process.running:
                process.stop()
        self.alerts.close()
        self.engine.dispose()


class Devices:
    """The BTS sites reporting every 0.3 s; `acked` is every message the broker took."""

    def __init__(self, port: int, devices: list[str] = DEVICES, name: str = "test-devices") -> None:
        self.doors: dict[str, bool] = {d: False for d in devices}
        self.open_reports = Counter[str]()  # reports sent with the door open
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
        self._client.max_inflight_messages_set(1000)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._sent: list[tuple[str, int, mqtt.MQTTMessageInfo]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        while not self._stop.wait(0.3):
            for device in self.doors:
                seq += 1
                ts = now_ms()
                metrics = NORMAL["bts"] | {"door_open": self.doors[device]}
                payload = orjson.dumps({"ts": ts, "seq": seq, "metrics": metrics})
                info = self._client.publish(f"ioc/bts/{device}/telemetry", payload, qos=1)
                self.open_reports[device] += self.doors[device]
                self._sent.append((device, ts, info))

    def acked(self) -> int:
        """How many of the messages sent so far the broker acknowledged."""
        return sum(1 for _device, _ts, info in list(self._sent) if _acked(info))

    def stop(self) -> set[tuple[str, int]]:
        """Stop reporting; every (device, ts) the broker acknowledged (one published while
        the client was away from the broker was never sent)."""
        self._stop.set()
        self._thread.join()
        sent = [(d, ts, i) for d, ts, i in self._sent if i.rc == mqtt.MQTT_ERR_SUCCESS]
        wait_until(lambda: all(i.is_published() for _, _, i in sent), 10, "PUBACKs")
        self._client.disconnect()
        self._client.loop_stop()
        return {(device, ts) for device, ts, info in sent if info.is_published()}


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    return info.rc == mqtt.MQTT_ERR_SUCCESS and info.is_published()


class Transitions:
    """A node's live stream, read on a thread of its own: every transition it delivers."""

    def __init__(self, url: str, token: str) -> None:
        self.events: list[dict[str, object]] = []
        self._stream = Stream(f"{url}/api/v1/stream?token={token}")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                event = self._stream.next()
                if event.kind == "transition":
                    self.events.append(event.data)
        except Exception:  # hung up: the test has what it read
            return

    def close(self) -> None:
        self._stream.close()


class Faults:
    """Doors opened and closed; each must raise exactly one alert, fired then resolved."""

    def __init__(self, cluster: Cluster, devices: Devices, receiver: HttpReceiver) -> None:
        self._cluster = cluster
        self._devices = devices
        self._receiver = receiver
        self.made = Counter[str]()
        self.told_of: set[str] = set()  # devices whose alerts were all told of

    def _door_alerts(self, device: str) -> list[AlertState]:
        alerts = self._cluster.alerts.list_alerts(device_ids=[device], limit=100)
        return [a.state for a in alerts if a.rule_id == "bts.door_open"]

    def open(self, device: str) -> None:
        self.made[device] += 1
        self._devices.doors[device] = True

    def reported(self, device: str) -> None:
        """Wait until the device reported its door open twice since it opened."""
        before = self._devices.open_reports[device]
        wait_until(lambda: self._devices.open_reports[device] >= before + 2, 5, "two reports")

    def close(self, device: str) -> None:
        self._devices.doors[device] = False

    def raised(self, device: str, within_s: float = 30) -> None:
        wanted = self.made[device]
        wait_until(lambda: len(self._door_alerts(device)) == wanted, within_s, f"{device}'s alert")

    def told(self, device: str, within_s: float = 30) -> None:
        """Wait until the engineer was told of the device's latest alert."""
        [latest, *_] = self._cluster.alerts.list_alerts(device_ids=[device], limit=1)

        def heard() -> bool:
            sent = [orjson.loads(r.body) for r in self._receiver.received]
            return any(m["alert_id"] == latest.id and m["kind"] == "fired" for m in sent)

        wait_until(heard, within_s, f"the engineer told of {device}'s alert")
        self.told_of.add(device)

    def resolved(self, device: str, within_s: float = 30) -> None:
        def all_resolved() -> bool:
            states = self._door_alerts(device)
            return len(states) == self.made[device] and set(states) == {AlertState.RESOLVED}

        wait_until(all_resolved, within_s, f"{device}'s alerts resolved")

    def whole(self, device: str) -> None:
        """A fault from start to end."""
        self.open(device)
        self.raised(device)
        self.told(device)
        self.close(device)
        self.resolved(device)


def nothing_lost_nothing_twice(
    cluster: Cluster, faults: Faults, receiver: HttpReceiver, acked: set[tuple[str, int]]
) -> None:
    """Every acknowledged message stored; one alert per fault and no other; nobody told twice."""

    def stored() -> set[tuple[str, int]]:
        rows = cluster.influxd.query(
            'SELECT "door_open" FROM "bts" GROUP BY "device_id"', cluster.influx_db
        )
        return {
            (series["tags"]["device_id"], int(row[0]))  # type: ignore[index]
            for series in rows
            for row in series["values"]  # type: ignore[union-attr]
        }

    # Some are stored by a node that adopted a dead node's session.
    wait_until(lambda: acked <= stored(), 30, "every acknowledged message stored")
    # A takeover is no outage: no alert but one per fault.
    alerts = cluster.alerts.list_alerts(limit=1000)
    assert Counter(a.device_id for a in alerts) == faults.made, cluster.logs()
    assert {a.rule_id for a in alerts} == {"bts.door_open"}
    assert {a.state for a in alerts} == {AlertState.RESOLVED}
    # Every door left open was told of, and its end too (one that closed within the group
    # wait while nobody led was not worth telling).
    lasting = {a.id for a in alerts if a.device_id in faults.told_of}

    def told(kind: str) -> set[object]:
        sent = [orjson.loads(r.body) for r in receiver.received]
        return {m["alert_id"] for m in sent if m["kind"] == kind}

    assert told("fired") >= lasting
    wait_until(lambda: told("resolved") >= lasting, 10, "every end told")
    sent = [orjson.loads(r.body) for r in receiver.received]
    pairs = Counter((m["alert_id"], m["kind"]) for m in sent)
    assert max(pairs.values()) == 1, pairs  # nobody told twice
