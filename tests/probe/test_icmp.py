"""ICMP rounds against real hosts (network namespaces on veth pairs): answers, loss made by an
iptables rule, a cut link, nobody there, a forged reply; and the socket kinds."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from ioc.probe import IcmpStatistic, IcmpUnavailable, Pinger
from tests.support.mqtt import wait_until
from tests.support.netns import NEEDS_ROOT, NetHost, net_hosts

pytestmark = NEEDS_ROOT


@pytest.fixture
def pinger() -> Iterator[Pinger]:
    pinger = Pinger()
    pinger.open({4})
    yield pinger
    pinger.close()


def test_a_round_measures_each_host_on_its_own(pinger: Pinger) -> None:
    with net_hosts(4) as (healthy, lossy, cut, silent):
        lossy.drop(0.3)
        cut.cut()
        silent.drop(1.0)  # up, but it answers nothing
        addresses = [healthy.address, lossy.address, cut.address, silent.address]
        results = pinger.round(addresses, 200, 4.0, 1.0, threading.Event())
    assert pinger.mode == "raw (privileged)"  # root, and this machine's ping_group_range
    good = results[healthy.address]
    assert (good.sent, len(good.rtts_ms), good.loss_pct) == (200, 200, 0.0)
    avg, worst = good.statistic(IcmpStatistic.AVG), good.statistic(IcmpStatistic.MAX)
    assert avg is not None and worst is not None and 0 < avg <= worst < 1000
    assert good.statistic(IcmpStatistic.JITTER) is not None
    assert 20 <= results[lossy.address].loss_pct <= 40  # 30 % ± 10 over 200 requests
    for gone in (cut.address, silent.address):
        assert results[gone].loss_pct == 100.0 and not results[gone].answered
        assert results[gone].statistic(IcmpStatistic.AVG) is None
    assert results[cut.address].errors > 0  # the link is down: the kernel says unreachable
    counters = pinger.counters
    assert counters.sent == 800 and counters.received == 200 + len(results[lossy.address].rtts_ms)


def test_a_host_that_comes_back_answers_the_next_round(pinger: Pinger) -> None:
    with net_hosts(1) as (host,):
        host.cut()
        first = pinger.round([host.address], 3, 1.0, 0.5, threading.Event())
        host.restore()
        second = pinger.round([host.address], 3, 1.0, 0.5, threading.Event())
    assert not first[host.address].answered
    assert second[host.address].loss_pct == 0.0


def test_a_reply_nobody_asked_for_is_counted_not_taken(pinger: Pinger) -> None:
    with net_hosts(1) as (host,):
        _forge_echo_reply(host, ident=os.getpid() & 0xFFFF, sequence=54_321)
        results = pinger.round([host.address], 2, 1.0, 0.5, threading.Event())
        # The forged reply may wait on the namespace's first neighbour resolution, a second
        # or more on a loaded machine: it is counted when it comes, while the link is up.
        wait_until(lambda: pinger.counters.stray >= 1, 10, "the stray reply counted")
    assert results[host.address].loss_pct == 0.0
    assert pinger.counters.stray == 1


def test_a_stop_ends_a_round_at_once(pinger: Pinger) -> None:
    stopping = threading.Event()
    stopping.set()
    with net_hosts(1) as (host,):
        results = pinger.round([host.address], 5, 60.0, 2.0, stopping)
    assert results[host.address].sent == 0


def test_unprivileged_sockets_refused_here_say_what_to_change() -> None:
    with open("/proc/sys/net/ipv4/ping_group_range", encoding="ascii") as ranges:
        low, high = map(int, ranges.read().split())
    if low <= os.getgid() <= high:
        pytest.skip("this machine allows unprivileged ICMP to our group")
    with pytest.raises(IcmpUnavailable, match=r"net\.ipv4\.ping_group_range='0 2147483647'"):
        Pinger(privileged=False).open({4})


def test_unprivileged_sockets_where_the_system_allows_them() -> None:
    # ping_group_range belongs to a network namespace: allow it in one of ours, ping its
    # loopback from there with a datagram socket.
    with net_hosts(1) as (host,):
        host.run("sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647")
        script = (
            "import threading\n"
            "from ioc.probe import Pinger\n"
            "p = Pinger(privileged=None); p.open({4})\n"
            "r = p.round(['127.0.0.1'], 3, 1.0, 0.5, threading.Event())['127.0.0.1']\n"
            "print(p.mode, r.loss_pct); p.close()\n"
        )
        output = host.run(sys.executable, "-c", script)
    assert output.split() == ["datagram", "(unprivileged)", "0.0"]


def _forge_echo_reply(host: NetHost, ident: int, sequence: int) -> None:
    """An echo reply to this side from the host, for a request never sent."""
    script = (
        "import socket, struct\n"
        f"ident, seq = {ident}, {sequence}\n"
        "payload = bytes(56)\n"
        "header = struct.pack('!BBHHH', 0, 0, 0, ident, seq)\n"
        "total = 0\n"
        "data = header + payload\n"
        "for i in range(0, len(data), 2):\n"
        "    total += (data[i] << 8) + data[i + 1]\n"
        "total = (total >> 16) + (total & 0xFFFF); total += total >> 16\n"
        "packet = struct.pack('!BBHHH', 0, 0, ~total & 0xFFFF, ident, seq) + payload\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)\n"
        f"s.sendto(packet, ({host.local!r}, 0))\n"
    )
    subprocess.run(
        ["ip", "netns", "exec", host.namespace, sys.executable, "-c", script], check=True
    )
