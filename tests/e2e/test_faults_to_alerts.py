"""End to end: `ioc sim` with injected faults -> Mosquitto -> `ioc run` (ingest into InfluxDB,
rules, alerts) -> the alerts a user lists, with the root cause of a commune link failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from ioc.broker import MosquittoProcess
from ioc.domain import Alert, AlertState
from ioc.inventory import bundled_profiles_dir
from ioc.state import AlertRepository, connect_state
from tests.rules.harness import fast_rules
from tests.support.influx import InfluxProcess
from tests.support.mqtt import has_subscriber, wait_until
from tests.support.processes import IocProcess, create_token, ioc_env

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
# gw2, bts1 and vc1 depend on gw1; bts2 and vc2 on gw2.
BEHIND_GW1 = {"gw2", "bts1", "bts2", "vc1", "vc2"}


@pytest.fixture
def env(
    mosquitto: MosquittoProcess, influxd: InfluxProcess, influx_db: str, tmp_path: Path
) -> dict[str, str]:
    rules = fast_rules(tmp_path / "rules", "12s", "3s")
    return ioc_env(mosquitto.url, influxd.url, influx_db, tmp_path / "data", SMALL_INVENTORY, rules)


@pytest.fixture
def repository(env: dict[str, str]) -> Iterator[AlertRepository]:
    repository = AlertRepository(connect_state(f"sqlite:///{env['IOC_DATA_DIR']}/state.db"))
    yield repository
    repository.close()


def test_faults_raise_their_alerts_and_a_link_failure_is_one_root_incident(
    mosquitto: MosquittoProcess,
    influxd: InfluxProcess,
    influx_db: str,
    env: dict[str, str],
    repository: AlertRepository,
    tmp_path: Path,
) -> None:
    ioc = IocProcess(["run", "--status-every", "2"], env, tmp_path / "ioc.log")
    sim = None
    try:
        wait_until(lambda: has_subscriber(mosquitto.port), 60, "ioc subscribed")
        # Fault times are simulated seconds; at 10x the link fails 8 s in, for 20 s.
        sim = IocProcess(
            [
                "sim",
                "--speed", "10",
                "--inventory", str(SMALL_INVENTORY),
                "--profiles", str(bundled_profiles_dir()),
                "--quiet",
                "--fault", "mains_failure:bts1@0/1h",
                "--fault", "door_open:bts2@0/1h",
                "--fault", "link_down:gw1@80/200",
            ],
            env,
            tmp_path / "sim.log",
        )  # fmt: skip

        def open_alerts() -> dict[tuple[str, str], Alert]:
            return {
                (a.rule_id, a.device_id): a
                for a in repository.list_alerts()
                if a.state is not AlertState.RESOLVED
            }

        def outage_grouped() -> bool:
            alerts = open_alerts()
            root = alerts.get(("netgw.wan_down", "gw1"))
            if root is None:
                return False
            downs = {d for (rule, d), a in alerts.items() if rule == "device.down"}
            return downs == BEHIND_GW1 and all(
                a.root_id == root.id for key, a in alerts.items() if key[1] in BEHIND_GW1
            )

        wait_until(outage_grouped, 60, "the link failure grouped as one root incident")
        # `ioc run` serves the API beside ingest and rules.
        api = f"http://127.0.0.1:{env['IOC_API_PORT']}"
        assert urllib3.request("GET", f"{api}/healthz").status == 200
        token = create_token(env, "viewer")
        served = urllib3.request("GET", f"{api}/api/v1/alerts?token={token}&state=firing")
        assert served.status == 200
        assert ("netgw.wan_down", "gw1") in {
            (a["rule"], a["device_id"]) for a in json.loads(served.data)["items"]
        }
        during = open_alerts()
        root = during[("netgw.wan_down", "gw1")]
        assert root.root_id is None and root.severity.value == "critical"
        # Alerts raised before the link failed joined the incident when it began.
        assert during[("bts.mains_failure", "bts1")].root_id == root.id
        assert during[("bts.door_open", "bts2")].root_id == root.id
        assert {key[1] for key in during if during[key].root_id is None} == {"gw1"}

        def recovered() -> bool:
            alerts = open_alerts()
            return ("netgw.wan_down", "gw1") not in alerts and not any(
                rule == "device.down" for rule, _ in alerts
            )

        wait_until(recovered, 60, "the link back and every device heard again")
        after = open_alerts()
        # What still holds after the root cleared stands on its own, to be notified.
        assert after[("bts.mains_failure", "bts1")].root_id is None
        assert after[("bts.door_open", "bts2")].root_id is None
        history = [t.kind.value for t in repository.history(after[("bts.door_open", "bts2")].id)]
        # Grouped under gw1's outage; maybe under gw2's for a moment while gw2 came back last;
        # then a root of its own.
        assert history[0] == "fired" and history[-1] == "promoted", history
        assert set(history[1:-1]) == {"grouped"}, history
    finally:
        code = ioc.stop()  # first: devices leaving because the test ends are no outage
        if sim is not None:
            sim.stop()
    assert code == 0, (tmp_path / "ioc.log").read_text()[-3000:]
    stored = influxd.query('SELECT count("battery_v") FROM "bts"', influx_db)
    assert stored and int(stored[0]["values"][0][1]) > 0  # type: ignore[index]
