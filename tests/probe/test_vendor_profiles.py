"""The shipped vendor profiles against snmpsim serving walks of that gear in network namespaces:
a Delta ORION DC power system (bus voltage, currents, mains failure, a failed rectifier), a
Poly video endpoint (call loss and jitter as text; its call and registration traps give the
events and the in_call / registered states), and a DrayTek Vigor2920 commune router without
64-bit interface counters (its throughput from the 32-bit ones). A value of the wrong type is
named and counted, and the rest of the reading is kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ioc.broker import MosquittoProcess
from ioc.config import BrokerAddress
from ioc.domain import Inventory, Profile
from ioc.edge import EdgeOptions
from ioc.probe import Probe, ProbeConfig, Target, bundled_probe_profiles_dir, load_probe_config
from ioc.probe._snmp import SnmpOutcome, SnmpPoller
from tests.support.mqtt import TopicFeed, wait_until
from tests.support.netns import NEEDS_ROOT, NetHost, net_hosts
from tests.support.snmpsim import Snmpsim

pytestmark = NEEDS_ROOT
WALKS = Path(__file__).parent / "testdata" / "walks"
SITE, ENDPOINT, ROUTER = "bts-QT-00001", "vc-QT-D01-C0001", "gw-QT-D01-C0001"
POLY = "1.3.6.1.4.1.2684.1.1.0"  # POLYCOM-VIDEO-MIB notifications


@dataclass
class Gear:
    power: NetHost
    endpoint: NetHost
    router: NetHost
    directory: Path


@pytest.fixture(scope="module")
def gear(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gear]:
    """snmpsim as the DC power controller, the endpoint and the router, a host each."""
    with net_hosts(3, first_index=36) as (power, endpoint, router):
        agents = [
            Snmpsim(power, [WALKS / "delta-orion.snmprec"]),
            Snmpsim(endpoint, [WALKS / "poly-video.snmprec"]),
            Snmpsim(router, [WALKS / "draytek-vigor2920.snmprec"]),
        ]
        try:
            for agent in agents:
                agent.start()
            yield Gear(power, endpoint, router, tmp_path_factory.mktemp("vendor"))
        finally:
            for agent in agents:
                agent.stop()


def _config(
    gear: Gear, profiles: dict[str, Profile], inventory: Inventory, extra: str = ""
) -> ProbeConfig:
    path = gear.directory / "probe.yaml"
    path.write_text(
        "probe_id: probe-vendor-1\n"
        "icmp: {packets: 2, round: 1s, timeout: 300ms}\n"
        f"{extra}"
        "targets:\n"
        f"  - {{device: {SITE}, address: {gear.power.address}, profile: delta-orion-dc-power,\n"
        "     snmp: {version: '2c', community: delta-orion, timeout: 1s, retries: 1}}\n"
        f"  - {{device: {ENDPOINT}, address: {gear.endpoint.address}, profile: poly-video,\n"
        "     snmp: {version: '2c', community: poly-video, timeout: 1s, retries: 1}}\n",
        encoding="utf-8",
    )
    return load_probe_config(path, profiles, inventory, bundled_probe_profiles_dir())


def _poll(targets: tuple[Target, ...]) -> tuple[dict[str, SnmpOutcome], SnmpPoller]:
    poller = SnmpPoller()
    poller.start()
    try:
        return poller.poll(targets, time.time()).result(timeout=30), poller
    finally:
        poller.close()


def test_the_dc_power_system_and_the_endpoint_as_their_profiles_read_them(
    gear: Gear, profiles: dict[str, Profile], inventory: Inventory
) -> None:
    outcomes, _poller = _poll(_config(gear, profiles, inventory).targets)
    power = outcomes[SITE]
    assert power.failure is None and power.problems == []
    assert power.metrics == {
        "battery_v": 48.7,  # dcSystemVoltage 4870 x 10 mV
        "load_a": 31.2,
        "battery_a": -31.8,  # discharging: the mains are off
        "battery_temp_c": 28.4,
        "mains_ok": False,  # dcMainsFailureAlarm active(2)
        "rectifier_ok": False,  # one rectifier failed
    }
    endpoint = outcomes[ENDPOINT]
    assert endpoint.failure is None and endpoint.problems == []
    assert endpoint.metrics == {"loss_pct": 2.5, "jitter_ms": 34.0}


def test_a_router_without_64_bit_counters_has_its_throughput_from_the_32_bit_ones(
    gear: Gear, profiles: dict[str, Profile], inventory: Inventory
) -> None:
    """The Vigor2920 has no ifXTable: rx/tx from ifInOctets/ifOutOctets (wraps handled as
    32-bit), and nothing counted missing round after round."""
    path = gear.directory / "router.yaml"
    path.write_text(
        "probe_id: probe-vendor-2\n"
        "targets:\n"
        f"  - {{device: {ROUTER}, address: {gear.router.address}, profile: if-mib-router,\n"
        "     interface: {descr: WAN1},\n"
        "     snmp: {version: '2c', community: draytek-vigor2920, timeout: 1s, retries: 1}}\n",
        encoding="utf-8",
    )
    config = load_probe_config(path, profiles, inventory, bundled_probe_profiles_dir())
    poller = SnmpPoller()
    poller.start()
    try:
        # The first poll also walks ifDescr for WAN1: its GET comes later than its time, so
        # the rate is taken between the next two (the counters move with snmpsim's clock).
        first = poller.poll(config.targets, time.time()).result(timeout=30)[ROUTER]
        poller.poll(config.targets, time.time()).result(timeout=30)
        time.sleep(1.0)
        second = poller.poll(config.targets, time.time()).result(timeout=30)[ROUTER]
    finally:
        poller.close()
    assert first.problems == second.problems == [] and poller.counters["missing"] == 0
    assert first.metrics["wan_up"] is True and "rx_bps" not in first.metrics  # no rate yet
    assert second.metrics["rx_bps"] == pytest.approx(2_000_000, rel=0.1)  # 250,000 octets/s
    assert second.metrics["tx_bps"] == pytest.approx(400_000, rel=0.1)
    assert second.metrics["in_errors_ps"] == 0


def test_a_value_of_the_wrong_type_is_named_and_the_rest_kept(
    gear: Gear, profiles: dict[str, Profile], inventory: Inventory, tmp_path: Path
) -> None:
    """A copy of the Poly profile reading the loss as an integer (the MIB has it as text)."""
    for shipped in bundled_probe_profiles_dir().glob("*.yaml"):
        text = shipped.read_text(encoding="utf-8")
        if shipped.stem == "poly-video":
            text = text.replace(
                "loss_pct:  {oid: 1.3.6.1.4.1.2684.1.1.21.0, type: number_text}",
                "loss_pct:  {oid: 1.3.6.1.4.1.2684.1.1.21.0, type: number}",
            )
        (tmp_path / shipped.name).write_text(text, encoding="utf-8")
    config = _config(gear, profiles, inventory, f"profiles_dir: {tmp_path}\n")
    outcomes, poller = _poll(config.targets)
    endpoint = outcomes[ENDPOINT]
    assert endpoint.problems == ["1.3.6.1.4.1.2684.1.1.21.0: OctetString '2.5' is not a number"]
    assert endpoint.metrics == {"jitter_ms": 34.0}
    assert poller.counters["wrong_type"] == 1


def test_call_and_registration_traps_are_events_and_states(
    gear: Gear, profiles: dict[str, Profile], inventory: Inventory, tmp_path: Path
) -> None:
    broker = MosquittoProcess(tmp_path / "mosquitto")
    broker.start()
    config = _config(gear, profiles, inventory, "traps: {port: 0, communities: [vc-traps]}\n")
    options = EdgeOptions(
        BrokerAddress("127.0.0.1", broker.port, "probe-vendor-1"), "ioc", tmp_path / "b.db"
    )
    probe = Probe(config, options)
    listener = probe.trap_listener
    assert listener is not None
    events = TopicFeed(broker.port, "ioc/vc/+/event", "vendor-events")
    readings = TopicFeed(broker.port, "ioc/vc/+/telemetry", "vendor-readings")
    probe.start()
    listener.start()
    try:

        def trap(oid: str) -> None:
            gear.endpoint.run("snmptrap", "-v2c", "-c", "vc-traps",
                              f"{gear.endpoint.local}:{listener.port}", "", oid)  # fmt: skip

        trap(f"{POLY}.19")  # gatekeeperReg
        trap(f"{POLY}.4")  # callUp
        wait_until(lambda: len(readings.events) >= 2, 5, "the states the traps told")
        assert [r["metrics"] for r in readings.events[:2]] == [
            {"registered": True},
            {"in_call": True},
        ]
        trap(f"{POLY}.5")  # callDown
        wait_until(lambda: len(events.events) >= 3, 5, "three events")
        assert [e["type"] for e in events.events] == ["register", "call_start", "call_end"]
        wait_until(lambda: len(readings.events) >= 3, 5, "in_call false")
        assert readings.events[2]["metrics"] == {"in_call": False}
        # A round carries the states as they stand, beside what it measured.
        probe.run_round(threading.Event())
        wait_until(lambda: len(readings.events) >= 4, 10, "a round's reading")
        last = dict(readings.events[-1]["metrics"])  # type: ignore[call-overload]
        assert {"registered": True, "in_call": False, "loss_pct": 2.5}.items() <= last.items()
    finally:
        listener.stop()
        probe.stop()
        events.stop()
        readings.stop()
        broker.stop()
