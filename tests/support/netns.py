"""Test hosts as network namespaces joined to this one by veth pairs, on TEST-NET-2.

Each host gets a /30 of 198.51.100.0/24 (this side .4k+1, the host .4k+2); the route to it is
checked before anything is sent. Loss comes from an iptables statistic rule inside the host
(this kernel has no netem), a cut link from `ip link set down`. Everything made is removed on
exit, also when the test fails. Needs root (CI runs as root).
"""

from __future__ import annotations

import os
import subprocess
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
    """One namespace with one address, reachable from here through its own veth pair."""

    def __init__(self, index: int) -> None:
        tag = f"{os.getpid() % 100000}x{index}"
        self.namespace = f"ioc-t{tag}"
        self.outer = f"it{tag}h"  # interface names are at most 15 characters
        self.inner = f"it{tag}n"
        self.local = f"198.51.100.{4 * index + 1}"
        self.address = f"198.51.100.{4 * index + 2}"

    def create(self) -> None:
        _run("ip", "netns", "add", self.namespace)
        _run("ip", "link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        _run("ip", "link", "set", self.inner, "netns", self.namespace)
        _run("ip", "addr", "add", f"{self.local}/30", "dev", self.outer)
        _run("ip", "link", "set", self.outer, "up")
        self.run("ip", "addr", "add", f"{self.address}/30", "dev", self.inner)
        self.run("ip", "link", "set", self.inner, "up")
        self.run("ip", "link", "set", "lo", "up")
        route = _run("ip", "route", "get", self.address)
        if f"dev {self.outer}" not in route:
            raise RuntimeError(f"{self.address} would not go through {self.outer}: {route}")

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, check=False)

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

    def cut(self) -> None:
        """The link goes down."""
        _run("ip", "link", "set", self.outer, "down")

    def restore(self) -> None:
        """The link comes back."""
        _run("ip", "link", "set", self.outer, "up")


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
