"""End to end for probed equipment: `ioc probe` watches commune routers and the
video-conference endpoint behind one (network namespaces; SIPp answers the endpoint's SIP
OPTIONS), through a private Mosquitto into ingest, the store and the rules. Loss made on the
router's link is stored as measured and raises the degraded-link alert, which clears when the
loss stops; a cut link is one root incident for the commune with the endpoint grouped under it,
resolved when the link returns. Routers with net-snmp agents: a linkDown trap is a stored event
within a second, an agent restart (its coldStart trap and its uptime going back) the reboot
alert, a wrong community a named error that costs nothing else, and readings taken while the
broker is away arrive once it is back."""

from __future__ import annotations

import math
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from ioc.app import Runtime, Stages, add_ingest, add_rules, ingest_hearing, load_catalog
from ioc.broker import MosquittoProcess
from ioc.config import Settings, load_settings
from ioc.domain import Aggregate, AlertState, now_ms
from ioc.state import AlertRepository, connect_state
from ioc.store import SqliteStore
from tests.rules.harness import RULES_DIR
from tests.support.mqtt import wait_until
from tests.support.netns import NEEDS_ROOT, NetHost, net_hosts, router_with_host
from tests.support.processes import IocProcess
from tests.support.sipp import Sipp
from tests.support.snmpd import COMMUNITY, Snmpd

pytestmark = [pytest.mark.e2e, NEEDS_ROOT]

INVENTORY = """\
version: 1
areas:
  - {id: P, name: "Tỉnh Thử", kind: province}
  - {id: C1, name: "Xã Một", kind: commune, parent: P}
devices:
  - {id: gw1, class: netgw, area: C1, name: "Cổng xã Một", lat: 16.8, lon: 107.1}
  - {id: vc1, class: vc, area: C1, name: "Điểm cầu xã Một", lat: 16.8, lon: 107.1,
     depends_on: [gw1]}
"""


def _fast_rules(folder: Path) -> Path:
    """The default rules with a 6 s window for the degraded link instead of 5 minutes."""
    folder.mkdir()
    for path in RULES_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8").replace("over: 5m", "over: 6s")
        (folder / path.name).write_text(text, encoding="utf-8")
    return folder


INVENTORY_SNMP = """\
version: 1
areas:
  - {id: P, name: "Tỉnh Thử", kind: province}
  - {id: C1, name: "Xã Một", kind: commune, parent: P}
  - {id: C2, name: "Xã Hai", kind: commune, parent: P}
devices:
  - {id: gw1, class: netgw, area: C1, name: "Cổng xã Một", lat: 16.8, lon: 107.1}
  - {id: gw2, class: netgw, area: C2, name: "Cổng xã Hai", lat: 16.7, lon: 107.2}
"""


@pytest.fixture
def inventory_text() -> str:
    return INVENTORY


@pytest.fixture
def settings(mosquitto: MosquittoProcess, tmp_path: Path, inventory_text: str) -> Settings:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(inventory_text, encoding="utf-8")
    return load_settings(
        mqtt_url=mosquitto.url,
        data_dir=tmp_path / "data",
        inventory=inventory,
        rules_dir=_fast_rules(tmp_path / "rules"),
        batch_interval_s=0.1,
    )


@pytest.fixture
def running(settings: Settings) -> Iterator[None]:
    """Ingest and the rules, as `ioc run` has them (without its API)."""
    catalog = load_catalog(settings)
    stages = Stages.over(Runtime(settings, catalog))
    rules = add_rules(stages)
    rules.hearing = ingest_hearing(add_ingest(stages, [rules.observe]))
    supervisor = stages.supervisor()
    stop = threading.Event()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(supervisor.run(stop.is_set)))
    thread.start()
    yield
    stop.set()
    thread.join(30)
    assert codes == [0]


def _probe(settings: Settings, tmp_path: Path, router: NetHost, endpoint: NetHost) -> IocProcess:
    return _run_probe(
        settings,
        tmp_path,
        "probe_id: probe-e2e-1\n"
        "icmp: {packets: 20, round: 2s, timeout: 500ms}\n"
        "defaults: {netgw: generic-router, vc: vc-endpoint}\n"
        "targets:\n"
        f"  - {{device: gw1, address: {router.address}}}\n"
        f"  - {{device: vc1, address: {endpoint.address}}}\n",
    )


def _run_probe(settings: Settings, tmp_path: Path, probe_file: str) -> IocProcess:
    """`ioc probe FILE` as a user runs it."""
    path = tmp_path / "probe.yaml"
    path.write_text(probe_file, encoding="utf-8")
    env = {
        "IOC_MQTT_URL": settings.mqtt_url,
        "IOC_DATA_DIR": str(settings.data_dir),
        "IOC_INVENTORY": str(settings.inventory),
    }
    return IocProcess(["probe", str(path)], env, tmp_path / "probe.log")


class Alerts:
    """The alert book as the test sees it."""

    def __init__(self, settings: Settings) -> None:
        self.repository = AlertRepository(connect_state(settings.resolved_state_url))

    def states(self) -> dict[tuple[str, str], AlertState]:
        return {(a.rule_id, a.device_id): a.state for a in self.repository.list_alerts()}

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        try:
            wait_until(condition, timeout_s, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the alerts: {self.states()}") from None


def test_loss_and_a_cut_link_become_the_alerts_an_operator_expects(
    settings: Settings, running: None, tmp_path: Path
) -> None:
    book = Alerts(settings)
    repository, alerts, wait_for = book.repository, book.states, book.wait_for
    store = SqliteStore(settings.data_dir / "telemetry.db")

    def assert_loss_near(start_ms: int, end_ms: int, dropped: float) -> None:
        """The mean of the rounds' loss between the two times (one reading a round) is the
        share dropped, within 3.5 standard deviations of so many packets (20 a round): a
        random dropper's count varies, and a fixed band too tight fails now and then."""
        points = store.series("netgw", "gw1", "loss_pct", start_ms, end_ms, 1, Aggregate.MEAN)
        assert len(points) >= 4, points
        mean = sum(float(str(p.value)) for p in points) / len(points)
        spread = 100 * 3.5 * math.sqrt(dropped * (1 - dropped) / (20 * len(points)))
        assert abs(mean - 100 * dropped) <= spread, (mean, spread, points)

    with router_with_host() as (router, endpoint):
        sip_agent = Sipp(endpoint, tmp_path / "sipp")  # the endpoint's SIP user agent
        sip_agent.start()
        probe = _probe(settings, tmp_path, router, endpoint)
        try:
            wait_until(lambda: store.latest("vc", ["vc1"]), 20, "the endpoint's first reading")
            [endpoint_reading] = store.latest("vc", ["vc1"])
            assert endpoint_reading.metrics["sip_ok"] is True
            assert endpoint_reading.metrics["sip_status"] == 200
            assert alerts() == {}

            router.drop(0.3)
            lossy_from = now_ms()
            wait_for(
                lambda: alerts().get(("netgw.degraded", "gw1")) is AlertState.FIRING,
                30,
                "the degraded-link alert",
            )
            wait_until(lambda: now_ms() - lossy_from > 12_000, 15, "six rounds of loss")
            router.heal()
            healed_at = now_ms()
            assert_loss_near(lossy_from + 2_000, healed_at, 0.3)
            wait_for(
                lambda: alerts()[("netgw.degraded", "gw1")] is AlertState.RESOLVED,
                30,
                "the alert clearing once the loss stops",
            )

            router.cut()  # the commune's link: the endpoint behind it is gone too
            wait_for(
                lambda: all(
                    alerts().get(("device.down", d)) is AlertState.FIRING for d in ("gw1", "vc1")
                ),
                15,
                "both down",
            )
            down = {a.device_id: a for a in repository.list_alerts() if a.rule_id == "device.down"}
            assert down["gw1"].root_id is None
            assert down["vc1"].root_id == down["gw1"].id  # one root incident for the commune
            router.restore()
            wait_for(
                lambda: all(
                    alerts()[("device.down", d)] is AlertState.RESOLVED for d in ("gw1", "vc1")
                ),
                20,
                "resolved when the link returns",
            )
            assert probe.stop() == 0
        finally:
            if probe.running:
                probe.stop()
            sip_agent.stop()
            repository.close()
            store.close()


def _events(settings: Settings, device_id: str, event_type: str) -> list[tuple[int, str]]:
    """The stored events of a device (time, data)."""
    with closing(sqlite3.connect(settings.data_dir / "telemetry.db")) as db:
        rows = db.execute(
            "SELECT ts_ms, data FROM event WHERE device_id = ? AND type = ? ORDER BY ts_ms",
            (device_id, event_type),
        ).fetchall()
    return [(int(ts), str(data)) for ts, data in rows]


def _free_udp_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("inventory_text", [INVENTORY_SNMP])
def test_snmp_routers_traps_a_reboot_a_wrong_community_and_a_broker_outage(
    settings: Settings, running: None, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    book = Alerts(settings)
    store = SqliteStore(settings.data_dir / "telemetry.db")
    trap_port = _free_udp_port()
    with net_hosts(2, first_index=40) as (first, second):
        agent = Snmpd(first, tmp_path / "snmpd-1", trap_sink=f"{first.local}:{trap_port}")
        other = Snmpd(second, tmp_path / "snmpd-2")
        agent.start()
        other.start()
        probe = _run_probe(
            settings,
            tmp_path,
            "probe_id: probe-e2e-2\n"
            "icmp: {packets: 5, round: 2s, timeout: 500ms}\n"
            f"snmp: {{version: '2c', community: {COMMUNITY}, timeout: 500ms, retries: 0}}\n"
            f"traps: {{port: {trap_port}, communities: [{COMMUNITY}]}}\n"
            "targets:\n"
            f"  - {{device: gw1, address: {first.address}, profile: if-mib-router,\n"
            "     interface: {name: lo}}\n"
            f"  - {{device: gw2, address: {second.address}, profile: if-mib-router,\n"
            "     interface: {name: lo},\n"
            "     snmp: {version: '2c', community: not-the-one, timeout: 500ms, retries: 0}}\n",
        )
        try:
            wait_until(
                lambda: {"uptime_s", "wan_up", "rtt_ms"} <= set(_latest(store, "gw1")),
                20,
                "gw1's first readings by ping and SNMP",
            )
            # The wrong community costs gw2 its SNMP figures only, and is named once.
            wait_until(lambda: "rtt_ms" in _latest(store, "gw2"), 20, "gw2's ping figures")
            assert "uptime_s" not in _latest(store, "gw2")
            wait_until(
                lambda: (
                    "gw2: SNMP fails: timeout (no answer: down, filtered, or a wrong "
                    "community)" in probe.log.read_text(encoding="utf-8")
                ),
                10,
                "the named SNMP failure in the probe's log",
            )

            first.run("snmptrap", "-v2c", "-c", COMMUNITY, f"{first.local}:{trap_port}", "",
                      "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.1", "i", "1")  # fmt: skip
            sent = time.monotonic()
            wait_until(lambda: _events(settings, "gw1", "link_down"), 5, "the stored link_down")
            assert time.monotonic() - sent < 1.0, "a trap is a stored event within a second"

            agent.restart()  # a reboot: a coldStart trap, and uptime going back
            wait_until(lambda: _events(settings, "gw1", "reboot"), 10, "the coldStart's event")
            book.wait_for(
                lambda: book.states().get(("netgw.reboot", "gw1")) is AlertState.FIRING,
                15,
                "the reboot alert",
            )

            mosquitto.stop()
            away_from = now_ms()
            wait_until(lambda: now_ms() - away_from > 7_000, 10, "three rounds without a broker")
            mosquitto.start()
            back_at = now_ms()
            wait_until(
                lambda: len(_stored(store, "gw1", away_from, back_at)) >= 3,
                30,
                "the rounds taken while the broker was away",
            )
            assert probe.stop() == 0
        finally:
            if probe.running:
                probe.stop()
            agent.stop()
            other.stop()
            book.repository.close()
            store.close()


def _latest(store: SqliteStore, device_id: str) -> dict[str, object]:
    found = store.latest("netgw", [device_id])
    return dict(found[0].metrics) if found else {}


def _stored(store: SqliteStore, device_id: str, start_ms: int, end_ms: int) -> list[object]:
    return store.series("netgw", device_id, "rtt_ms", start_ms, end_ms, 1, Aggregate.MEAN)
