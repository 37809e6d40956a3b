"""Scale-out: one versus two ingest nodes through a shared subscription, in the same run.

  load generator -> Mosquitto -> `ioc ingest` x N ($share/bench/...) -> influxd 1.6.7

Each node of a cluster runs its ingest as a member of one shared subscription; this measures
that half alone (`ioc ingest` processes with distinct client ids in one group), the same
messages through one member and then two, each into a database of its own. Printed:
messages/s end to end, ingest's CPU per message (all members together), and two / one ratios.
On a 2-core machine the broker, influxd and the load generator share the cores with ingest.
Usage: python bench/cluster_ingest.py [--messages 200000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest_throughput import IngestRun, measure_ingest  # noqa: E402
from loadgen import bts_messages  # noqa: E402

from ioc.broker import MosquittoProcess  # noqa: E402
from tests.support.influx import InfluxProcess  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2, help="alternate one and two this often")
    args = parser.parse_args()
    # 10,000 devices reporting every second, ending now: inside ingest's allowed clock skew.
    devices = 10_000
    start_ms = int(time.time() * 1000) - args.messages // devices * 1000
    messages = bts_messages(args.messages, devices, start_ms)
    root = Path(tempfile.mkdtemp(prefix="ioc-bench-cluster-"))
    influx = InfluxProcess(root / "influx")
    broker = MosquittoProcess(root / "mosquitto")
    influx.start()
    broker.start()
    runs: dict[int, list[IngestRun]] = {1: [], 2: []}
    try:
        for round_ in range(args.rounds):
            for nodes in (1, 2):
                print(f"round {round_ + 1}, {nodes} ingest node(s):", flush=True)
                run = measure_ingest(
                    broker, influx, messages, root / f"ingest-{nodes}-{round_}",
                    {"IOC_INFLUX_DB": f"ingest_{nodes}_{round_}"}, ingestors=nodes,
                )  # fmt: skip
                if run.stored != len(messages):
                    raise RuntimeError(f"{nodes} nodes: {run.stored:,} of {len(messages):,} stored")
                per_message_us = run.ingest_cpu_s / len(messages) * 1e6
                print(f"  {run.rate:10,.0f} msg/s, ingest CPU {per_message_us:6.1f} µs/msg")
                runs[nodes].append(run)
    finally:
        broker.stop()
        influx.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"one vs two ingest nodes, {len(messages):,} messages, best of {args.rounds}:")
    best = {nodes: max(r.rate for r in found) for nodes, found in runs.items()}
    cpu = {
        nodes: min(r.ingest_cpu_s for r in found) / len(messages) * 1e6
        for nodes, found in runs.items()
    }
    for nodes in (1, 2):
        print(f"  {nodes} node(s): {best[nodes]:10,.0f} msg/s, {cpu[nodes]:6.1f} µs CPU/message")
    print(f"  two / one: {best[2] / best[1]:.2f}x msg/s, {cpu[2] / cpu[1]:.2f}x CPU per message")


if __name__ == "__main__":
    main()
