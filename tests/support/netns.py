"""Test hosts as network namespaces joined to this one by veth pairs, on TEST-NET-2.

Each host gets a /30 of 198.51.100.0/24 (this side .4k+1, the host .4k+2); the route to it is
checked before anything is sent. Loss comes from an iptables statistic rule inside the host
(this kernel has no netem), a cut link from `ip link set down`. Everything made is removed on
exit, also when the test fails. Needs root (CI runs as root).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0, reason="network namespaces and veth pairs need root (CI runs as root)"
)


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


class NetHost:
    """One namespace with one address, reachable from here through its own veth pair, or
    through a router host it sits behind (`behind`)."""

    def __init__(self, index: int, behind: NetHost | None = None) -> None:
        tag = f"{os.getpid() % 100000}x{index}"
        self.namespace = f"ioc-t{tag}"
        self.outer = f"it{tag}h"  # interface names are at most 15 characters
        self.inner = f"it{tag}n"
        self.local = f"198.51.100.{4 * index + 1}"
        self.address = f"198.51.100.{4 * index + 2}"
        self.behind = behind
        self.hosts_behind: list[NetHost] = []
        if behind is not None:
            behind.hosts_behind.append(self)

    def create(self) -> None:
        _run("ip", "netns", "add", self.namespace)
        _run("ip", "link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        _run("ip", "link", "set", self.inner, "netns", self.namespace)
        if self.behind is not None:
            _run("ip", "link", "set", self.outer, "netns", self.behind.namespace)
        self._outer_side("ip", "addr", "add", f"{self.local}/30", "dev", self.outer)
        self._outer_side("ip", "link", "set", self.outer, "up")
        self.run("ip", "addr", "add", f"{self.address}/30", "dev", self.inner)
        self.run("ip", "link", "set", self.inner, "up")
        self.run("ip", "link", "set", "lo", "up")
        if self.behind is not None:
            self.behind.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
            self.run("ip", "route", "add", "default", "via", self.local)
            _run("ip", "route", "add", f"{self.address}/32", "via", self.behind.address)
        expected, route = self._route()
        if expected not in route:
            raise RuntimeError(f"{self.address} would not go {expected}: {route}")

    def _route(self) -> tuple[str, str]:
        """The way to this host as it must be, and as the kernel has it now."""
        expected = f"dev {self.outer}"
        if self.behind is not None:
            expected = f"via {self.behind.address} dev {self.behind.outer}"
        return expected, _run("ip", "route", "get", self.address)

    def remove(self) -> None:
        if self.behind is not None:
            subprocess.run(["ip", "route", "del", f"{self.address}/32"], capture_output=True)
        subprocess.run(
            [*self._outer_prefix(), "ip", "link", "del", self.outer], capture_output=True
        )
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, check=False)

    def _outer_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.behind.namespace] if self.behind else []

    def _outer_side(self, *args: str) -> str:
        return _run(*self._outer_prefix(), *args)

    def run(self, *args: str) -> str:
        """A command inside the host."""
        return _run("ip", "netns", "exec", self.namespace, *args)

    def drop(self, probability: float) -> None:
        """Lose that share of the ICMP the host receives (until `heal`)."""
        self.run(
            "iptables", "-A", "INPUT", "-p", "icmp", "-m", "statistic", "--mode", "random",
            "--probability", f"{probability:g}", "-j", "DROP",
        )  # fmt: skip

    def heal(self) -> None:
        """No more loss."""
        self.run("iptables", "-F", "INPUT")

    def block(self, port: int) -> None:
        """Drop every TCP segment to and from `port` on this side (a firewall, or a route that
        blackholes one server): connections to it hang rather than fail (until `unblock`)."""
        for chain, direction in (("OUTPUT", "--dport"), ("INPUT", "--sport")):
            self.run("iptables", "-A", chain, "-p", "tcp", direction, str(port), "-j", "DROP")

    def unblock(self) -> None:
        """Nothing blocked any more."""
        for chain in ("OUTPUT", "INPUT"):
            self.run("iptables", "-F", chain)

    def cut(self) -> None:
        """The link goes down."""
        self._outer_side("ip", "link", "set", self.outer, "down")

    def restore(self) -> None:
        """The link comes back (with the routes to the hosts behind it, which the kernel
        dropped when it went down)."""
        self._outer_side("ip", "link", "set", self.outer, "up")
        for host in self.hosts_behind:
            _run("ip", "route", "replace", f"{host.address}/32", "via", self.address)
        # The link is back once both ends are up and the kernel routes to it again: on a loaded
        # machine that takes a moment after `ip link set up` returns.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ends_up = "state UP" in self._outer_side("ip", "-o", "link", "show", self.outer)
            ends_up = ends_up and "state UP" in self.run("ip", "-o", "link", "show", self.inner)
            expected, route = self._route()
            if ends_up and expected in route:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.address}: the link did not come back within 10 s")


@contextmanager
def net_hosts(count: int, first_index: int = 1) -> Iterator[list[NetHost]]:
    """`count` fresh hosts, removed afterwards whatever happens."""
    with ExitStack() as stack:
        hosts = []
        for index in range(first_index, first_index + count):
            host = NetHost(index)
            stack.callback(host.remove)
            host.create()
            hosts.append(host)
        yield hosts


@contextmanager
def router_with_host(index: int = 1) -> Iterator[tuple[NetHost, NetHost]]:
    """A router host and a host behind it (reached through the router: cut the router's link
    and both are gone), removed afterwards whatever happens."""
    with ExitStack() as stack:
        router = NetHost(index)
        stack.callback(router.remove)
        router.create()
        host = NetHost(index + 1, behind=router)
        stack.callback(host.remove)
        host.create()
        yield router, host
