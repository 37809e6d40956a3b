"""SNMP polls per second: the probe's poller beside net-snmp's snmpget and snmpbulkget, against
one net-snmp agent (snmpd on a loopback port of its own, started for the run).

One poll is what the probe asks a commune router each round with the if-mib-router profile:
sysUpTime and the WAN row (ifOperStatus, ifAdminStatus, ifHCInOctets, ifHCOutOctets) in one
GET. The same values are fetched by

- the probe: `SnmpPoller.poll` over N targets at the same agent, `concurrency` at once (CPU:
  this process's time over the round, both of its threads);
- snmpget: one process per poll, `--parallel` processes at a time, as a Nagios/Cacti style
  poller does (CPU: the children's user + system time);
- snmpbulkget: the same, one GETBULK of the five columns' predecessors (non-repeaters 5).

All three share the one agent, whose own speed caps polls per second; the per-poll CPU is the
poller's own cost. Printed: polls/s, CPU ms per poll, and the ratios to snmpget.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ioc.broker import free_port
from ioc.probe import ProbeProfile, Target
from ioc.probe._config import InterfaceChoice, SnmpAccess, SnmpGet
from ioc.probe._schema import InterfaceStatistic, SnmpType
from ioc.probe._snmp import SnmpPoller

COMMUNITY = "bench-ro"
OIDS = [
    "1.3.6.1.2.1.1.3.0",
    "1.3.6.1.2.1.2.2.1.8.1",
    "1.3.6.1.2.1.2.2.1.7.1",
    "1.3.6.1.2.1.31.1.1.1.6.1",
    "1.3.6.1.2.1.31.1.1.1.10.1",
]


def start_snmpd(directory: Path, port: int) -> subprocess.Popen[bytes]:
    config = directory / "snmpd.conf"
    config.write_text(f"agentAddress udp:127.0.0.1:{port}\nrocommunity {COMMUNITY} 127.0.0.1\n")
    agent = subprocess.Popen(
        ["snmpd", "-f", "-Lo", "-C", "-c", str(config), f"--persistentDir={directory}",
         "-p", str(directory / "snmpd.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        if _snmpget(port) == 0:
            return agent
        time.sleep(0.1)
    agent.terminate()
    raise RuntimeError("snmpd did not answer")


def _snmpget(port: int) -> int:
    return subprocess.run(
        ["snmpget", "-v2c", "-c", COMMUNITY, "-t", "2", "-r", "1", "-Oqv",
         f"127.0.0.1:{port}", *OIDS],
        capture_output=True, check=False,
    ).returncode  # fmt: skip


def _snmpbulkget(port: int) -> int:
    predecessors = [oid.rsplit(".", 1)[0] for oid in OIDS]
    return subprocess.run(
        ["snmpbulkget", "-v2c", "-c", COMMUNITY, "-t", "2", "-r", "1", "-Oqv",
         f"-Cn{len(OIDS)}", "-Cr0", f"127.0.0.1:{port}", *predecessors],
        capture_output=True, check=False,
    ).returncode  # fmt: skip


def net_snmp(tool: str, port: int, polls: int, parallel: int) -> tuple[float, float, int]:
    """Seconds, child CPU seconds, and failed polls for `polls` runs of the tool."""
    run = _snmpget if tool == "snmpget" else _snmpbulkget
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        codes = list(pool.map(lambda _i: run(port), range(polls)))
    elapsed = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, sum(code != 0 for code in codes)


def probe(port: int, polls: int, concurrency: int) -> tuple[float, float, int]:
    """Seconds, CPU seconds, and failed polls for one round over `polls` targets (after a
    warm-up round, as a running probe has)."""
    profile = ProbeProfile(
        "if-mib-router", "netgw", (),
        (SnmpGet("uptime_s", OIDS[0], SnmpType.TIMETICKS, 1.0, 0.0),),
        (("wan_up", InterfaceStatistic.OPER_UP), ("rx_bps", InterfaceStatistic.IN_BPS),
         ("tx_bps", InterfaceStatistic.OUT_BPS)),
    )  # fmt: skip
    access = SnmpAccess("2c", COMMUNITY, None, port, 2.0, 1)
    targets = [
        Target(f"gw-{i:05d}", "netgw", "127.0.0.1", profile, access, InterfaceChoice(index=1))
        for i in range(polls)
    ]
    poller = SnmpPoller(concurrency)
    poller.start()
    try:
        poller.poll(targets, time.time()).result(timeout=600)
        cpu_before, began = time.process_time(), time.perf_counter()
        outcomes = poller.poll(targets, time.time()).result(timeout=600)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_before
    finally:
        poller.close()
    return elapsed, cpu, sum(o.failure is not None or bool(o.problems) for o in outcomes.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--polls", type=int, default=2000, help="polls by each poller")
    parser.add_argument("--parallel", type=int, default=8, help="net-snmp processes at once")
    parser.add_argument("--concurrency", type=int, default=64, help="the probe's polls at once")
    args = parser.parse_args()
    missing = [tool for tool in ("snmpd", "snmpget", "snmpbulkget") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"snmp_polls: needs {', '.join(missing)} (Debian: snmpd, snmp; `make bench` "
                 "installs them)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ioc-bench-snmp-") as folder:
        port = free_port()
        agent = start_snmpd(Path(folder), port)
        try:
            results = {
                "snmpget": net_snmp("snmpget", port, args.polls, args.parallel),
                "snmpbulkget": net_snmp("snmpbulkget", port, args.polls, args.parallel),
                "probe": probe(port, args.polls, args.concurrency),
            }
        finally:
            agent.terminate()
            agent.wait(10)
    base_rate = args.polls / results["snmpget"][0]
    base_cpu = results["snmpget"][1] / args.polls
    print(f"SNMP polls ({len(OIDS)} values in one request), {args.polls} each, one snmpd")
    print(f"{'poller':<12} {'polls/s':>9} {'CPU ms/poll':>12} {'failed':>7} "
          f"{'x snmpget rate':>15} {'x snmpget CPU':>14}")  # fmt: skip
    for name, (elapsed, cpu, failed) in results.items():
        rate, cpu_ms = args.polls / elapsed, cpu / args.polls * 1000
        print(f"{name:<12} {rate:>9,.0f} {cpu_ms:>12.2f} {failed:>7} "
              f"{rate / base_rate:>15.2f} {cpu / args.polls / base_cpu:>14.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
