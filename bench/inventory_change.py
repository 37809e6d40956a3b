"""A change to a national inventory applied while ingest runs at full rate, beside the same load
with no change, in the same run.

  load generator -> Mosquitto -> `ioc ingest` (its own process, devices not in the inventory
  refused) -> the embedded SQLite telemetry store

Run A (baseline): M messages from the inventory's BTS sites, nothing changes.
Run B: the next M messages; one second in, another process records a new inventory version
(--added sites added, one moved) and ingest puts it in force while the load runs.

Measured: the first version recorded (the file brought into the state database); recording the
change (read, checked, diffed, written); how long ingest took to have it in force (from the
record to its log saying so); ingest's resident memory before and after; messages sent, stored
and lost in each run, and run B's rate as a ratio of run A's; then the added sites' messages,
which must all be stored (before the change they would have been refused).

Usage: python bench/inventory_change.py [--devices 100000] [--messages 200000] [--added 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loadgen import LoadGenerator, bts_messages  # noqa: E402

from ioc.app import Catalog, Runtime  # noqa: E402
from ioc.broker import MosquittoProcess  # noqa: E402
from ioc.config import load_settings  # noqa: E402
from ioc.inventory import FleetShape, document_of, generate_inventory, write_inventory  # noqa: E402
from ioc.store import SqliteStore  # noqa: E402


def _rss_mb(pid: int) -> tuple[float, float]:
    """A process's resident memory now and at its peak, in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _until(condition: Any, limit_s: float, what: str) -> float:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > limit_s:
            raise TimeoutError(f"{what}: not within {limit_s:g} s")
        time.sleep(0.05)
    return time.monotonic() - began


def _load(port: int, messages: list[tuple[str, bytes]], store: SqliteStore, before: int,
          name: str) -> float:  # fmt: skip
    """Send the messages; seconds until every one of them is stored."""
    began = time.monotonic()
    LoadGenerator(port, messages, name).run()
    _until(lambda: store.count("bts") >= before + len(messages), 600, f"{name} stored")
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--added", type=int, default=1000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ioc-bench-inventory-"))
    document = generate_inventory(FleetShape.for_device_count(args.devices, False), 7)
    sites = sum(1 for d in document["devices"] if d["class"] == "bts")
    communes = [a["id"] for a in document["areas"] if a["kind"] == "commune"][:2]
    inventory_file = workdir / "inventory.json"
    write_inventory(document, inventory_file)
    print(f"{len(document['devices']):,} devices in {len(document['areas']):,} areas "
          f"({sites:,} BTS sites)", flush=True)  # fmt: skip
    broker = MosquittoProcess(workdir / "mosquitto")
    broker.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")} | {
        "IOC_MQTT_URL": broker.url, "IOC_DATA_DIR": str(workdir / "data"),
        "IOC_INVENTORY": str(inventory_file), "IOC_UNKNOWN_DEVICES": "reject",
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    settings = load_settings(
        data_dir=workdir / "data", inventory=inventory_file, mqtt_url=broker.url
    )
    log = workdir / "ingest.log"
    began = time.monotonic()
    with log.open("wb") as out:
        ingest = subprocess.Popen([sys.executable, "-m", "ioc", "ingest", "--status-every", "5"],
                                  env=env, stdout=out, stderr=out, cwd=ROOT)  # fmt: skip
    store = None
    try:
        _until(lambda: "inventory version 1 recorded" in log.read_text(), 300, "version 1")
        first_s = time.monotonic() - began
        now = time.time_ns() // 1_000_000
        everything = bts_messages(2 * args.messages, sites, now - 60_000)
        run_a, run_b = everything[: args.messages], everything[args.messages :]
        (workdir / "data").mkdir(exist_ok=True)
        store = SqliteStore(workdir / "data" / "telemetry.db")
        ready = bts_messages(1, sites, now - 120_000)  # its own time: no duplicate of run A's
        LoadGenerator(broker.port, ready, "bench-ready").run()  # ingest subscribed
        _until(lambda: store.count("bts") >= 1, 60, "ingest storing")
        rss_before = _rss_mb(ingest.pid)
        base = store.count("bts")
        a_s = _load(broker.port, run_a, store, base, "bench-a")

        editor = Runtime(settings)
        timings: dict[str, float] = {}

        def change() -> None:
            time.sleep(1.0)
            live = editor.live_inventory
            live.start()
            added = [
                {"id": f"bts-QT-{sites + n + 1:05d}", "class": "bts", "area": communes[0],
                 "name": f"Trạm mới {n + 1}"}
                for n in range(args.added)
            ]  # fmt: skip

            def changed(catalog: Catalog) -> dict[str, Any]:
                new = document_of(catalog.inventory)
                new["devices"] += added
                moved = next(d for d in new["devices"] if d["area"] != communes[1])
                moved["area"] = communes[1]
                return new

            recording = time.monotonic()
            made = live.change(changed, "bench", "new sites", "api")
            timings["record"] = time.monotonic() - recording
            number = made.version.number if made.version else 0
            timings["in_force"] = _until(
                lambda: f"inventory version {number} in force" in log.read_text(), 120,
                "ingest putting the change in force",
            ) + timings["record"]  # fmt: skip

        editing = threading.Thread(target=change)
        editing.start()
        b_s = _load(broker.port, run_b, store, base + len(run_a), "bench-b")
        editing.join()
        editor.close()
        rss_after = _rss_mb(ingest.pid)
        fresh = [  # one message from each added site, refused before the change
            (topic.replace(f"bts-QT-{n + 1:05d}/", f"bts-QT-{sites + n + 1:05d}/"), payload)
            for n, (topic, payload) in enumerate(
                bts_messages(args.added, args.added, time.time_ns() // 1_000_000)
            )
        ]
        stored = store.count("bts") - base
        _load(broker.port, fresh, store, base + stored, "bench-new")
        sent = len(run_a) + len(run_b)
    finally:
        ingest.terminate()
        ingest.wait(timeout=60)
        if store is not None:
            store.close()
        broker.stop()
    print(f"first version recorded by ingest's start     {first_s:7.2f} s (start included)")
    print(f"the change recorded ({args.added:,} added, 1 moved) {timings['record']:7.2f} s")
    print(f"in force in ingest, from the record          {timings['in_force']:7.2f} s")
    print(f"ingest memory: {rss_before[0]:.0f} MB before, {rss_after[0]:.0f} MB after "
          f"(peak {rss_after[1]:.0f} MB)")  # fmt: skip
    print(f"run A (no change)  {len(run_a) / a_s:9,.0f} msg/s")
    print(f"run B (a change)   {len(run_b) / b_s:9,.0f} msg/s   ratio {a_s / b_s:.2f}")
    print(f"messages: {sent:,} sent, {stored:,} stored, {sent - stored:,} lost; "
          f"{len(fresh):,} from the added sites, all stored")  # fmt: skip


if __name__ == "__main__":
    main()
