"""End to end for probed equipment: `ioc probe` pings a commune router and the video-conference
endpoint behind it (network namespaces), through a private Mosquitto into ingest, the store and
the rules. Loss made on the router's link is stored as measured and raises the degraded-link
alert, which clears when the loss stops; a cut link is one root incident for the commune with
the endpoint grouped under it, resolved when the link returns."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ioc.app import Stages, add_ingest, add_rules, ingest_hearing, load_catalog
from ioc.broker import MosquittoProcess
from ioc.config import Settings, load_settings
from ioc.domain import Aggregate, AlertState, now_ms
from ioc.state import AlertRepository, connect_state
from ioc.store import SqliteStore
from tests.rules.harness import RULES_DIR
from tests.support.mqtt import wait_until
from tests.support.netns import NEEDS_ROOT, NetHost, router_with_host
from tests.support.processes import IocProcess

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


@pytest.fixture
def settings(mosquitto: MosquittoProcess, tmp_path: Path) -> Settings:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY, encoding="utf-8")
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
    stages = Stages()
    rules = add_rules(stages, settings, catalog)
    rules.hearing = ingest_hearing(add_ingest(stages, settings, catalog, [rules.observe]))
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
    path = tmp_path / "probe.yaml"
    path.write_text(
        "probe_id: probe-e2e-1\n"
        "icmp: {packets: 20, round: 2s, timeout: 500ms}\n"
        "defaults: {netgw: generic-router, vc: vc-endpoint}\n"
        "targets:\n"
        f"  - {{device: gw1, address: {router.address}}}\n"
        f"  - {{device: vc1, address: {endpoint.address}}}\n",
        encoding="utf-8",
    )
    env = {
        "IOC_MQTT_URL": settings.mqtt_url,
        "IOC_DATA_DIR": str(settings.data_dir),
        "IOC_INVENTORY": str(settings.inventory),
    }
    return IocProcess(["probe", str(path)], env, tmp_path / "probe.log")


def test_loss_and_a_cut_link_become_the_alerts_an_operator_expects(
    settings: Settings, running: None, tmp_path: Path
) -> None:
    repository = AlertRepository(connect_state(settings.resolved_state_url))
    store = SqliteStore(settings.data_dir / "telemetry.db")

    def alerts() -> dict[tuple[str, str], AlertState]:
        return {(a.rule_id, a.device_id): a.state for a in repository.list_alerts()}

    def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        try:
            wait_until(condition, timeout_s, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the alerts: {alerts()}") from None

    def mean_loss(start_ms: int, end_ms: int) -> float:
        """The mean of the rounds' loss between the two times (one reading a round)."""
        points = store.series("netgw", "gw1", "loss_pct", start_ms, end_ms, 1, Aggregate.MEAN)
        assert len(points) >= 4, points
        return sum(float(str(p.value)) for p in points) / len(points)

    with router_with_host() as (router, endpoint):
        probe = _probe(settings, tmp_path, router, endpoint)
        try:
            wait_until(lambda: store.latest("vc", ["vc1"]), 20, "the endpoint's first reading")
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
            assert 20 <= mean_loss(lossy_from + 2_000, healed_at) <= 40  # 30 % ± 10
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
            repository.close()
            store.close()
