"""SNMP polling against a real net-snmp agent in a network namespace: v2c and v3 authPriv,
the WAN interface by name with its status and octet rates, an agent restart, and failures named
(time-out for a wrong community, authentication for a wrong v3 key, a missing OID)."""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ioc.broker import MosquittoProcess
from ioc.config import BrokerAddress
from ioc.domain import Inventory, Profile
from ioc.edge import EdgeOptions
from ioc.probe import (
    IcmpSettings,
    Probe,
    ProbeConfig,
    Target,
    bundled_probe_profiles_dir,
    load_probe_config,
)
from ioc.probe._snmp import SnmpOutcome, SnmpPoller
from tests.support.mqtt import TopicFeed, wait_until
from tests.support.netns import NEEDS_ROOT, NetHost, net_hosts
from tests.support.snmpd import COMMUNITY, V3_AUTH, V3_PRIV, V3_USER, Snmpd

pytestmark = NEEDS_ROOT
GATEWAY = "gw-QT-D01-C0001"


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NetHost, Snmpd]]:
    """One router host with snmpd and a `wan0` interface of its own (a veth pair inside the
    host, whose state the test sets while SNMP still reaches the agent over the other link)."""
    with net_hosts(1, first_index=20) as (host,):
        host.run("ip", "link", "add", "wan0", "type", "veth", "peer", "name", "wan0peer")
        host.run("ip", "link", "set", "wan0peer", "up")
        host.run("ip", "link", "set", "wan0", "up")
        agent = Snmpd(host, tmp_path_factory.mktemp("snmpd"))
        agent.start()
        try:
            yield host, agent
        finally:
            agent.stop()


@pytest.fixture
def poller() -> Iterator[SnmpPoller]:
    poller = SnmpPoller()
    poller.start()
    yield poller
    poller.close()


MakeTarget = Callable[..., Target]


@pytest.fixture
def make_target(
    router: tuple[NetHost, Snmpd],
    tmp_path: Path,
    profiles: dict[str, Profile],
    inventory: Inventory,
) -> MakeTarget:
    """The router as a target loaded from a probe file, with this SNMP access (and a profile
    and interface choice of the test's)."""
    for shipped in bundled_probe_profiles_dir().glob("*.yaml"):
        (tmp_path / shipped.name).write_text(shipped.read_text(encoding="utf-8"))

    def make(snmp: str, profile: str = "if-mib-router", interface: str = "{name: wan0}") -> Target:
        path = tmp_path / "probe.yaml"
        path.write_text(
            "probe_id: p1\n"
            f"profiles_dir: {tmp_path}\n"
            "targets:\n"
            f"  - {{device: {GATEWAY}, address: {router[0].address}, profile: {profile},\n"
            f"     snmp: {snmp}, interface: {interface}}}\n",
            encoding="utf-8",
        )
        [target] = load_probe_config(path, profiles, inventory, tmp_path).targets
        return target

    return make


def _poll(poller: SnmpPoller, target: Target) -> SnmpOutcome:
    return poller.poll([target], time.time()).result(timeout=30)[target.device_id]


V2C = f"{{version: '2c', community: {COMMUNITY}, timeout: 500ms, retries: 0}}"
V3 = (
    f"{{version: '3', usm: {{user: {V3_USER}, auth_key: {V3_AUTH}, priv_key: {V3_PRIV}}},"
    " timeout: 500ms, retries: 0}"
)


@pytest.mark.parametrize("access", [V2C, V3], ids=["v2c", "v3-authpriv"])
def test_uptime_interface_state_and_rates(
    router: tuple[NetHost, Snmpd],
    poller: SnmpPoller,
    make_target: MakeTarget,
    access: str,
) -> None:
    host, _agent = router
    target = make_target(access)
    first = _poll(poller, target)
    assert first.failure is None and first.problems == [], first
    assert first.metrics["wan_up"] is True and float(str(first.metrics["uptime_s"])) > 0
    assert "rx_bps" not in first.metrics  # a rate needs two readings
    host.run("ip", "link", "set", "wan0", "down")
    polls: list[SnmpOutcome] = []
    try:  # the agent caches its interface table for a few seconds, as real ones do
        wait_until(
            lambda: polls.append(_poll(poller, target)) or polls[-1].metrics["wan_up"] is False,
            15,
            "the agent reporting wan0 down",
        )
    finally:
        host.run("ip", "link", "set", "wan0", "up")
    second = polls[-1]
    wait_until(lambda: _poll(poller, target).metrics["wan_up"] is True, 15, "wan0 up again")
    assert float(str(second.metrics["rx_bps"])) >= 0 and float(str(second.metrics["tx_bps"])) >= 0
    # The interface's error and discard counters (Counter32) as rates; an idle veth has none.
    errors = ("in_errors_ps", "out_errors_ps", "in_discards_ps", "out_discards_ps")
    assert {m: second.metrics[m] for m in errors} == dict.fromkeys(errors, 0.0)


def test_octet_rates_follow_the_traffic(
    router: tuple[NetHost, Snmpd],
    poller: SnmpPoller,
    make_target: MakeTarget,
) -> None:
    host, _agent = router
    # The link SNMP itself uses carries traffic we can make: choose it by its interface name.
    target = make_target(V2C, interface=f"{{name: {host.inner}}}")
    _poll(poller, target)
    started = time.time()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for _ in range(2000):
            udp.sendto(bytes(1000), (host.address, 9))  # discard: it arrives, and counts
    sent_bits = 2000 * (1000 + 28 + 14) * 8  # UDP payload + IP/UDP headers + Ethernet

    def seen() -> bool:  # the agent caches its counters: they move in its own time
        rate = float(str(_poll(poller, target).metrics.get("rx_bps", 0)))
        return rate >= 0.5 * sent_bits / (time.time() - started)

    wait_until(seen, 15, "the traffic in the interface's receive rate")


def test_an_agent_restart_is_uptime_going_back_and_no_false_rate(
    router: tuple[NetHost, Snmpd],
    poller: SnmpPoller,
    make_target: MakeTarget,
) -> None:
    _host, agent = router
    target = make_target(V2C)
    polls: list[SnmpOutcome] = []
    wait_until(  # an uptime past a fresh start's, so that going back can be seen
        lambda: polls.append(_poll(poller, target)) or polls[-1].metrics["uptime_s"] >= 1.0,
        15,
        "an agent up for a second",
    )
    before = polls[-1]
    agent.restart()
    after = _poll(poller, target)
    assert float(str(after.metrics["uptime_s"])) < float(str(before.metrics["uptime_s"]))
    assert "rx_bps" not in after.metrics and poller.counters["agent_restarts"] == 1


def test_failures_are_named_and_the_rest_is_kept(
    poller: SnmpPoller, make_target: MakeTarget, tmp_path: Path
) -> None:
    wrong_community = V2C.replace(COMMUNITY, "guess")
    timed_out = _poll(poller, make_target(wrong_community))
    assert timed_out.failure is not None and timed_out.failure.startswith("timeout")
    wrong_key = V3.replace(V3_AUTH, "not-the-key")
    refused = _poll(poller, make_target(wrong_key))
    assert refused.failure is not None and refused.failure.startswith("authentication")

    (tmp_path / "with-missing.yaml").write_text(
        "name: with-missing\nclass: netgw\nicmp: {rtt_ms: avg}\n"
        "snmp:\n  get:\n    uptime_s: {oid: 1.3.6.1.2.1.1.3.0, type: timeticks}\n"
        "    cpu_pct: {oid: 1.3.6.1.4.1.99999.1.0}\n",
        encoding="utf-8",
    )
    partial = _poll(
        poller,
        make_target(V2C, "with-missing", "null"),
    )
    assert partial.failure is None and "uptime_s" in partial.metrics
    assert "cpu_pct" not in partial.metrics
    assert partial.problems == ["1.3.6.1.4.1.99999.1.0: the agent has no such object"]
    assert poller.counters["timeouts"] == 1 and poller.counters["auth_errors"] == 1


def test_the_probe_publishes_ping_and_snmp_in_one_reading(
    router: tuple[NetHost, Snmpd],
    mosquitto: MosquittoProcess,
    make_target: MakeTarget,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    host, _agent = router
    target = make_target(V2C)
    broken = dataclasses.replace(  # this side of the link: it pings, but no agent listens
        target, device_id="gw-QT-D02-C0002", address=host.local
    )
    config = ProbeConfig(
        "probe-snmp-1", 60.0, None, 1000, IcmpSettings(3, 1.0, 0.5, 100, None), (target, broken)
    )
    broker = BrokerAddress("127.0.0.1", mosquitto.port, "probe-snmp-1")
    options = EdgeOptions(broker, "ioc", tmp_path / "b.db")
    feed = TopicFeed(mosquitto.port, "ioc/netgw/+/telemetry", "snmp-probe-feed")
    probe = Probe(config, options)
    probe.start()
    try:
        stopping = threading.Event()
        with caplog.at_level(logging.INFO, logger="ioc.probe"):
            probe.run_round(stopping)
            probe.run_round(stopping)
        wait_until(lambda: len(feed.events) >= 4, 10, "two rounds of readings")
    finally:
        probe.stop()
        feed.stop()
    ours = [e["metrics"] for e in feed.events if e["topic"] == f"ioc/netgw/{GATEWAY}/telemetry"]
    assert {"rtt_ms", "loss_pct", "uptime_s", "wan_up", "rx_bps"} <= set(ours[-1])  # type: ignore[arg-type]
    assert (
        caplog.messages.count(
            "gw-QT-D02-C0002: SNMP fails: timeout (no answer: down, filtered, or a wrong community)"
        )
        == 1
    )  # once, not each round
    assert probe.health()["snmp_timeouts"] == 2
