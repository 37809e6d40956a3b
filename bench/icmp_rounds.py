"""ICMP rounds of 2,000 and 10,000 targets: the probe's pinger beside fping over the same targets.

The targets live in one network namespace made for the run, which answers every address of
198.18.0.0/17 (RFC 2544's benchmarking range, routed only to that namespace) on its loopback;
the route is checked before anything is sent, and the namespace is removed afterwards. For each
size both take the same round: `packets` echo requests per target, paced over `round` seconds:

- the probe: `ioc.probe.Pinger.round` in this process (CPU: this process's time in the round);
- the baseline: `fping -C packets -p period -i interval -q` over the same addresses, in the same
  run (CPU: the child's user + system time). fping is what Zabbix runs for its ICMP checks.

Printed: round time, CPU seconds per round, CPU share of one core over the round, answers, and
the ratios probe / fping. Needs root (namespaces, and raw sockets for both).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ioc.probe import Pinger

NAMESPACE = f"ioc-bench-{os.getpid() % 100000}"
OUTER, INNER = f"ib{os.getpid() % 100000}h", f"ib{os.getpid() % 100000}n"
LOCAL, FAR = "198.51.100.253", "198.51.100.254"
TARGETS = ipaddress.ip_network("198.18.0.0/17")


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def make_far_side() -> None:
    """One namespace answering every address of TARGETS, reached through a veth pair."""
    _run("ip", "netns", "add", NAMESPACE)
    _run("ip", "link", "add", OUTER, "type", "veth", "peer", "name", INNER)
    _run("ip", "link", "set", INNER, "netns", NAMESPACE)
    _run("ip", "addr", "add", f"{LOCAL}/30", "dev", OUTER)
    _run("ip", "link", "set", OUTER, "up")
    inside = ("ip", "netns", "exec", NAMESPACE)
    _run(*inside, "ip", "addr", "add", f"{FAR}/30", "dev", INNER)
    _run(*inside, "ip", "link", "set", INNER, "up")
    _run(*inside, "ip", "link", "set", "lo", "up")
    _run(*inside, "ip", "route", "add", "local", str(TARGETS), "dev", "lo")
    _run("ip", "route", "add", str(TARGETS), "via", FAR)
    sample = str(TARGETS[12345])
    if f"via {FAR} dev {OUTER}" not in _run("ip", "route", "get", sample):
        raise RuntimeError(f"{sample} would not go to the bench's namespace")


def remove_far_side() -> None:
    for command in (
        ["ip", "route", "del", str(TARGETS)],
        ["ip", "link", "del", OUTER],
        ["ip", "netns", "del", NAMESPACE],
    ):
        subprocess.run(command, capture_output=True, check=False)


def probe_round(addresses: list[str], packets: int, round_s: float) -> tuple[float, float, int]:
    """Round time, CPU seconds, requests answered."""
    pinger = Pinger()
    pinger.open({4})
    try:
        cpu, wall = time.process_time(), time.monotonic()
        results = pinger.round(addresses, packets, round_s, 1.0, threading.Event())
        elapsed, used = time.monotonic() - wall, time.process_time() - cpu
    finally:
        pinger.close()
    return elapsed, used, sum(len(r.rtts_ms) for r in results.values())


def fping_round(addresses: list[str], packets: int, round_s: float) -> tuple[float, float, int]:
    """The same round by fping: round time, the child's CPU seconds, requests answered."""
    period_ms = (round_s - 1.0) / packets * 1000  # per target, as the probe paces them
    interval_ms = period_ms / len(addresses)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as targets:
        targets.write("\n".join(addresses))
        targets.flush()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.monotonic()
        done = subprocess.run(
            ["fping", "-C", str(packets), "-p", f"{period_ms:.3f}", "-i", f"{interval_ms:.3f}",
             "-t", "1000", "-q", "-f", targets.name],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        elapsed = time.monotonic() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    answered = sum(
        1 for line in done.stderr.splitlines() for value in line.split(":", 1)[-1].split()
        if value != "-"
    )  # fmt: skip
    return elapsed, used, answered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--packets", type=int, default=5)
    parser.add_argument("--round", type=float, default=10.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("icmp_rounds: needs root (network namespaces, raw sockets)", file=sys.stderr)
        return 2
    if shutil.which("fping") is None:
        print("icmp_rounds: needs fping, the baseline (apt-get install fping; `make bench` "
              "installs it)", file=sys.stderr)  # fmt: skip
        return 2
    make_far_side()
    try:
        print(f"ICMP rounds: {args.packets} requests per target over {args.round:g} s")
        print("targets | who   | round s | CPU s | CPU % of a core | answered")
        for size in (int(s) for s in args.sizes.split(",")):
            addresses = [str(TARGETS[i + 1]) for i in range(size)]
            figures = {
                "probe": probe_round(addresses, args.packets, args.round),
                "fping": fping_round(addresses, args.packets, args.round),
            }
            for who, (elapsed, used, answered) in figures.items():
                print(
                    f"{size:>7,} | {who:5} | {elapsed:7.2f} | {used:5.2f} | "
                    f"{100 * used / elapsed:14.1f}% | {answered:,}/{size * args.packets:,}"
                )
            ratio = figures["probe"][1] / max(figures["fping"][1], 1e-9)
            print(f"{size:>7,} | probe CPU per round = {ratio:.2f} x fping's")
    finally:
        remove_far_side()
    return 0


if __name__ == "__main__":
    sys.exit(main())
