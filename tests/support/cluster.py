"""Two `ioc run` nodes, `a` and `b`, on one machine against one broker, one PostgreSQL and one
InfluxDB, and the views a test or a bench needs of them (the cluster tests and
bench/takeover.py)."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import orjson
import urllib3
import yaml
from sqlalchemy import create_engine, text

from ioc.broker import MosquittoProcess, free_port
from ioc.domain import Role, now_ms
from ioc.state import AlertRepository, TokenStore, connect_state
from tests.rules.harness import fast_rules
from tests.support.http_receiver import HttpReceiver
from tests.support.influx import InfluxProcess
from tests.support.postgres import PostgresProcess
from tests.support.processes import IocProcess

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
