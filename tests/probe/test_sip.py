"""SIP OPTIONS against SIPp answering in a network namespace, over UDP and TCP: the final
response's code and time; a 404 is still a SIP stack that answers; a closed port is refused at
once, a filtered one times out, each named."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ioc.domain import Inventory, Profile
from ioc.probe import Target, bundled_probe_profiles_dir, load_probe_config
from ioc.probe._sip import SipOutcome, SipPinger, sip_metrics
from tests.support.netns import NEEDS_ROOT, NetHost, net_hosts
from tests.support.sipp import Sipp

pytestmark = NEEDS_ROOT
ENDPOINT = "vc-QT-D01-C0001"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetHost]:
    """A host whose SIPp answers 200 on udp and tcp 5060, and 404 on udp 5070."""
    directory = tmp_path_factory.mktemp("sipp")
    with net_hosts(1, first_index=32) as (host,):
        agents = [
            Sipp(host, directory / "udp", "udp"),
            Sipp(host, directory / "tcp", "tcp"),
            Sipp(host, directory / "404", "udp", 5070, "404 Not Found"),
        ]
        try:
            for agent in agents:
                agent.start()
            yield host
        finally:
            for agent in agents:
                agent.stop()


@pytest.fixture(scope="module")
def pinger() -> Iterator[SipPinger]:
    pinger = SipPinger()
    pinger.start()
    yield pinger
    pinger.close()


@pytest.fixture
def make_target(
    endpoint: NetHost, tmp_path: Path, profiles: dict[str, Profile], inventory: Inventory
) -> Callable[[str], Target]:
    """The endpoint as a target of the shipped vc-endpoint profile, with this SIP access."""

    def make(sip: str) -> Target:
        path = tmp_path / "probe.yaml"
        path.write_text(
            "probe_id: p1\n"
            "targets:\n"
            f"  - {{device: {ENDPOINT}, address: {endpoint.address}, profile: vc-endpoint,\n"
            f"     sip: {sip}}}\n",
            encoding="utf-8",
        )
        shipped = bundled_probe_profiles_dir()
        [target] = load_probe_config(path, profiles, inventory, shipped).targets
        return target

    return make


def _ask(pinger: SipPinger, target: Target) -> SipOutcome:
    return pinger.ping([target]).result(timeout=30)[target.device_id]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_options_answered_over_udp_and_tcp(
    pinger: SipPinger, make_target: Callable[[str], Target], transport: str
) -> None:
    target = make_target(f"{{transport: {transport}}}")
    outcome = _ask(pinger, target)
    assert outcome.status == 200 and outcome.failure is None
    assert outcome.response_ms is not None and 0 < outcome.response_ms < 2000
    metrics = sip_metrics(target, outcome)
    assert metrics == {"sip_ok": True, "sip_rtt_ms": outcome.response_ms, "sip_status": 200}


def test_a_404_is_a_sip_stack_that_answers(
    pinger: SipPinger, make_target: Callable[[str], Target]
) -> None:
    outcome = _ask(pinger, make_target("{port: 5070}"))
    assert outcome.answered and outcome.status == 404


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_closed_port_is_refused(
    pinger: SipPinger, make_target: Callable[[str], Target], transport: str
) -> None:
    target = make_target(f"{{transport: {transport}, port: 5999}}")
    outcome = _ask(pinger, target)
    assert outcome.failure == f"refused: nothing listens on {transport} 5999"
    assert sip_metrics(target, outcome) == {"sip_ok": False}


def test_a_filtered_port_times_out_after_retransmissions(
    pinger: SipPinger, make_target: Callable[[str], Target], endpoint: NetHost
) -> None:
    endpoint.run("iptables", "-A", "INPUT", "-p", "udp", "--dport", "5060", "-j", "DROP")
    try:
        before = pinger.counters["timeouts"]
        outcome = _ask(pinger, make_target("{timeout: 1200ms}"))
        rule = endpoint.run("iptables", "-L", "INPUT", "-v", "-n", "-x").splitlines()[2]
    finally:
        endpoint.heal()
    assert outcome.failure == "timeout (no SIP answer)" and not outcome.answered
    assert pinger.counters["timeouts"] == before + 1
    # RFC 3261 timer A: sent at 0 s, again at 0.5 s, the next (1.5 s) is past the time-out.
    assert int(rule.split()[0]) == 2, rule
