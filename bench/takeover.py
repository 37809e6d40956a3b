"""Takeover times: two `ioc run` nodes, the leader killed with SIGKILL again and again.

  nodes a and b -> one Mosquitto, one private PostgreSQL, one influxd

Each round kills the node that leads, at a random moment of its renewal cycle, and measures the
seconds until the other serves itself as the leader (/api/v1/cluster), then starts the dead
node again as a standby. Printed: each
takeover, the median and the worst, as a share of the lease and against the bound the cluster
promises (lease + 5 s).
Usage: python bench/takeover.py [--kills 10] [--lease 15]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ioc.broker import MosquittoProcess  # noqa: E402
from tests.support.cluster import Cluster  # noqa: E402
from tests.support.influx import InfluxProcess  # noqa: E402
from tests.support.mqtt import wait_until  # noqa: E402
from tests.support.postgres import PostgresProcess  # noqa: E402


def kill_the_leader(cluster: Cluster, leader: str, standby: str, limit_s: float) -> float:
    """SIGKILL the leader; seconds until the standby leads; then the dead node back."""
    cluster.nodes[leader].kill()
    killed_at = time.monotonic()
    wait_until(lambda: cluster.leader(standby) == standby, limit_s, "a takeover")
    took = time.monotonic() - killed_at
    cluster.start(leader)
    wait_until(lambda: cluster.node(leader, leader).get("alive") is True, 60, "back")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--lease", type=float, default=15.0, help="IOC_LEASE_S")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ioc-bench-takeover-"))
    postgres, influx = PostgresProcess(), InfluxProcess(root / "influx")
    broker = MosquittoProcess(root / "mosquitto")
    postgres.start()
    influx.start()
    broker.start()
    cluster = Cluster(root, postgres, broker, influx, lease_s=args.lease)
    bound = args.lease + 5
    takeovers: list[float] = []
    try:
        cluster.start("a")
        wait_until(lambda: cluster.leader("a") == "a", 60, "a leading")
        cluster.start("b")
        wait_until(lambda: cluster.node("b", "b").get("alive") is True, 60, "b standing by")
        leader, standby = "a", "b"
        for kill in range(1, args.kills + 1):
            # A standby that just started has renewed nothing yet: let it settle for a step;
            # then die at any moment of the leader's renewal cycle.
            time.sleep(args.lease / 3 + random.uniform(0, args.lease / 3))
            took = kill_the_leader(cluster, leader, standby, 3 * bound)
            takeovers.append(took)
            print(f"  kill {kill:2}: {leader} -> {standby} in {took:5.1f} s", flush=True)
            leader, standby = standby, leader
    finally:
        cluster.stop()
        broker.stop()
        influx.stop()
        postgres.remove()
        shutil.rmtree(root, ignore_errors=True)
    median, worst = statistics.median(takeovers), max(takeovers)
    print(f"takeover after SIGKILL, lease {args.lease:g} s, {len(takeovers)} kills:")
    print(f"  median {median:5.1f} s ({median / args.lease:.2f}x the lease)")
    print(f"  worst  {worst:5.1f} s ({worst / args.lease:.2f}x the lease; bound {bound:g} s)")
    if worst > bound:
        raise SystemExit(f"a takeover took {worst:.1f} s, past the bound of {bound:g} s")


if __name__ == "__main__":
    main()
