"""Two `ioc run` nodes, `a` and `b`, on one machine against one broker, one PostgreSQL and one
InfluxDB, and the views a test or a bench needs of them (the cluster tests,
bench/takeover.py and bench/chaos.py): the devices reporting, the faults they are given, and
the check that nothing was lost or doubled."""

from __future__ import annotations

import contextlib
import re
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
from tests.support.netns import NetHost
from tests.support.postgres import PostgresProcess
from tests.support.processes import IocProcess
from tests.support.relay import TcpRelay
from tests.support.sse import Stream

DEVICES = [f"bts{n:02d}" for n in range(1, 10)]
SMOKE_CLEARS_S = 5  # the smoke alarm's auto_resolve in the cluster's rules


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


def _notify_file(path: Path, receiver: HttpReceiver, email: bool) -> Path:
    contacts = {"webhook": f"{receiver.url}/an"} | ({"email": "an@stttt.gov.vn"} if email else {})
    document = {
        "version": 1,
        "people": [{"id": "an", "name": "An", "contacts": contacts}],
        "teams": [{"id": "c1", "members": ["an"], "channels": sorted(contacts)}],
        "routes": [
            {"id": "doors", "match": {"rules": ["bts.door_open", "bts.smoke"]}, "notify": "c1"}
        ],
        # Every fault told: a soak opens more doors in an hour than the default limit allows.
        "limits": {"group_wait": "1s", "per_hour": 10_000},
    }
    path.write_text(yaml.safe_dump(document))
    return path


def _rules(folder: Path) -> Path:
    """The default rules with test-sized times; a smoke alarm resolves itself after 5 s."""
    fast_rules(folder, "6s", "3s")
    bts = folder / "bts.yaml"
    text = bts.read_text(encoding="utf-8")
    smoke = "{kind: event, event: smoke_alarm, auto_resolve: "
    assert smoke + "10m}" in text
    bts.write_text(text.replace(smoke + "10m}", smoke + f"{SMOKE_CLEARS_S}s}}"), encoding="utf-8")
    return folder


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
        smtp: tuple[int, Path] | None = None,
    ) -> None:
        """A database of its own on `postgres`; notifications go to `receiver` (webhook) and,
        given an SMTP server's port and certificate (tests/support/smtp.py), by e-mail."""
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
            "IOC_RULES_DIR": str(_rules(tmp_path / "rules")),
            "IOC_BATCH_INTERVAL_S": "0.1",
            "IOC_LEASE_S": str(lease_s),
            # A node cut off the broker without a word goes blind (in about two keepalives)
            # well before the silence window (6 s) would have it judge every device down.
            "IOC_MQTT_KEEPALIVE_S": "1",
        }
        if receiver is not None:
            notify = _notify_file(tmp_path / "notify.yaml", receiver, smtp is not None)
            self.env |= {
                "IOC_NOTIFY_CONFIG": str(notify),
                "IOC_NOTIFY_WEBHOOK_SECRET": "cluster-test",
            }
        if smtp is not None:
            port, certificate = smtp
            self.env |= {
                "IOC_SMTP_URL": f"smtp://ioc@127.0.0.1:{port}",
                "IOC_SMTP_PASSWORD": "mail-pass",
                "IOC_SMTP_CA_FILE": str(certificate),
            }
        self.ports = {"a": free_port(), "b": free_port()}
        self.nodes: dict[str, IocProcess] = {}
        self.hosts: dict[str, NetHost] = {}  # nodes placed in a network namespace
        self._relays: list[TcpRelay] = []
        self._starts = Counter[str]()

    def place(self, node: str, host: NetHost) -> None:
        """Run `node` inside `host`, a network namespace (before its first start): it reaches
        every server through a relay on the host's outer address, on the server's own port, so
        a test can cut it off one server (`host.block(port)`) and not the others."""
        texts = [*self.env.values()]
        if "IOC_NOTIFY_CONFIG" in self.env:
            texts.append(Path(self.env["IOC_NOTIFY_CONFIG"]).read_text(encoding="utf-8"))
        ports = {int(p) for text in texts for p in re.findall(r"127\.0\.0\.1:(\d+)", text)}
        self._relays += [TcpRelay("127.0.0.1", p, listen=(host.local, p)) for p in sorted(ports)]
        self.hosts[node] = host

    def _placed_env(self, node: str) -> dict[str, str]:
        host = self.hosts[node]
        env = {k: v.replace("127.0.0.1", host.local) for k, v in self.env.items()}
        if "IOC_NOTIFY_CONFIG" in env:
            notify = Path(self.env["IOC_NOTIFY_CONFIG"])
            placed = notify.with_name(f"{notify.stem}-{node}{notify.suffix}")
            text = notify.read_text(encoding="utf-8").replace("127.0.0.1", host.local)
            placed.write_text(text, encoding="utf-8")
            env["IOC_NOTIFY_CONFIG"] = str(placed)
        return env | {"IOC_API_HOST": host.address}

    def start(self, node: str) -> None:
        """`ioc run` as `node` (its log: <node>-<how many times it started>.log)."""
        self._starts[node] += 1
        env = (self._placed_env(node) if node in self.hosts else self.env) | {
            "IOC_NODE_NAME": node,
            "IOC_API_PORT": str(self.ports[node]),
            "IOC_DATA_DIR": str(self.tmp_path / f"data-{node}"),
        }
        log = self.tmp_path / f"{node}-{self._starts[node]}.log"
        host = self.hosts.get(node)
        prefix = ("ip", "netns", "exec", host.namespace) if host is not None else ()
        self.nodes[node] = IocProcess(["run", "--status-every", "1"], env, log, prefix)

    def api(self, node: str) -> str:
        """The node's API base URL."""
        host = self.hosts.get(node)
        return f"http://{host.address if host else '127.0.0.1'}:{self.ports[node]}"

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
        for relay in self._relays:
            relay.close()


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
        self._alarms: list[tuple[str, int, mqtt.MQTTMessageInfo]] = []
        self.alarms_acked: set[tuple[str, int]] = set()  # once stopped
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

    def smoke(self, device: str) -> None:
        """The device's smoke detector goes off: one event (the rule `bts.smoke` raises an
        alert, resolved SMOKE_CLEARS_S later)."""
        ts = now_ms()
        payload = orjson.dumps({"ts": ts, "type": "smoke_alarm"})
        info = self._client.publish(f"ioc/bts/{device}/event", payload, qos=1)
        self._alarms.append((device, ts, info))

    def acked(self) -> int:
        """How many of the messages sent so far the broker acknowledged."""
        return sum(1 for _device, _ts, info in list(self._sent) if _acked(info))

    def stop(self) -> set[tuple[str, int]]:
        """Stop reporting; every (device, ts) the broker acknowledged (one published while
        the client was away from the broker was never sent)."""
        self._stop.set()
        self._thread.join()
        sent = [(d, ts, i) for d, ts, i in self._sent if i.rc == mqtt.MQTT_ERR_SUCCESS]
        alarms = [(d, ts, i) for d, ts, i in self._alarms if i.rc == mqtt.MQTT_ERR_SUCCESS]
        wait_until(lambda: all(i.is_published() for _, _, i in sent + alarms), 10, "PUBACKs")
        self._client.disconnect()
        self._client.loop_stop()
        self.alarms_acked = {(device, ts) for device, ts, info in alarms if info.is_published()}
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


class Wall:
    """An operator's wall on the live stream, resuming as a browser's EventSource does (with
    Last-Event-ID) on whichever node answers when its node goes away: the transitions it was
    given, in stretches (a `reset` starts another: the wall reloads its snapshots)."""

    def __init__(self, cluster: Cluster, token: str) -> None:
        self.stretches: list[list[int]] = [[]]
        self.resumed = 0
        self._cluster = cluster
        self._token = token
        self._stop = threading.Event()
        self._stream: Stream | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last_id: str | None = None
        while not self._stop.is_set():
            for node in sorted(self._cluster.ports):
                headers = {"Last-Event-ID": last_id} if last_id else None
                url = f"{self._cluster.api(node)}/api/v1/stream?token={self._token}"
                try:
                    self._stream = Stream(url, headers)
                    if self._stream.response.status != 200:
                        continue
                    self.resumed += last_id is not None
                    while not self._stop.is_set():
                        event = self._stream.next()
                        last_id = event.id or last_id
                        if event.kind == "reset":
                            self.stretches.append([])
                        elif event.kind == "transition":
                            self.stretches[-1].append(int(event.data["event_id"]))  # type: ignore[call-overload]
                except Exception:  # the node went away, froze, or hung up: the next one
                    continue
                finally:
                    if self._stream is not None:
                        with contextlib.suppress(Exception):
                            self._stream.close()
            self._stop.wait(0.5)

    def close(self) -> None:
        self._stop.set()
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.close()
        self._thread.join(20)

    def gaps(self, alerts: AlertRepository) -> list[str]:
        """Each stretch must hold, in order, every transition the log has from its first to
        its last: what was missing or out of order."""
        found = []
        for ids in (s for s in self.stretches if s):
            logged = [e.event_id for e in alerts.events_after(ids[0] - 1, 100_000)]
            wanted = [i for i in logged if i <= ids[-1]]
            if ids != wanted:
                missing = sorted(set(wanted) - set(ids))
                found.append(f"stretch {ids[0]}..{ids[-1]}: missing {missing[:10]}, "
                             f"given {len(ids)} for {len(wanted)}")  # fmt: skip
        return found


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
