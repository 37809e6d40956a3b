"""What locking the broker costs: the same loads against an anonymous Mosquitto and against one
with `ioc identities make`'s password file and ACL (anonymous off), in the same run.

- connect: N simulated devices (firmware_sim, one process) connecting, each as itself on the
  locked broker (its secret checked with PBKDF2-SHA512), until all are up;
- delivery: a collector publishing M QoS 1 readings for its 100 devices (each publish checked
  against its 300 ACL entries) to a subscribed ioc service (each delivery checked for read);
- ingest: the same collector's 8-metric readings through `ioc ingest` (logged in as
  ioc-ingest on the locked broker) into influxd, until influxd has every point.

A device publishing for itself is checked against 3 ACL entries, not 300: the delivery and
ingest figures are the dearer case. Printed: seconds to connect, messages/s, and locked /
anonymous ratios.
Usage: python bench/broker_auth.py [--devices 2000] [--messages 100000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest_throughput import measure_ingest  # noqa: E402
from loadgen import LoadGenerator, bts_messages  # noqa: E402

from firmware_sim import Simulator, SimulatorOptions  # noqa: E402
from firmware_sim.fleet import DeviceSpec  # noqa: E402
from ioc.broker import (  # noqa: E402
    MosquittoProcess,
    plan_identities,
    read_secrets,
    write_identities,
)
from tests.support.influx import InfluxProcess  # noqa: E402

BEHIND = 100  # devices the collector publishes for


def device_ids(count: int, first: int = 1) -> list[str]:
    return [f"bts-QT-{i:05d}" for i in range(first, first + count)]


def connect_seconds(port: int, devices: int, credentials: dict[str, str] | None) -> float:
    # Apart from the collector's devices (bts_messages' first BEHIND): these log in as themselves.
    fleet = [DeviceSpec(d, "bts", 60.0) for d in device_ids(devices, BEHIND + 1)]
    simulator = Simulator(fleet, SimulatorOptions(port=port, speed=1.0, credentials=credentials))
    started, connected_at = time.monotonic(), 0.0

    def watch(_counters: object) -> None:
        nonlocal connected_at
        if not connected_at and simulator.counters.connected >= devices:
            connected_at = time.monotonic()

    simulator.run(300.0, lambda: bool(connected_at), watch, 0.05)
    if not connected_at:
        raise RuntimeError(f"only {simulator.counters.connected} of {devices} connected")
    return connected_at - started


def delivery_rate(
    port: int, messages: list[tuple[str, bytes]], login: dict[str, tuple[str, str]] | None
) -> float:
    user, secret = login["ioc-ingest"] if login else ("", "")
    sub_login = ["-u", user, "-P", secret] if login else []
    subscriber = subprocess.Popen(
        ["mosquitto_sub", "-p", str(port), *sub_login, "-q", "1", "-t", "ioc/#",
         "-C", str(len(messages)), "-i", "bench-sub"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(0.5)
    generator = LoadGenerator(port, messages, "bench-delivery", login["loadgen"] if login else None)
    started = time.monotonic()
    generator.run()
    try:
        subscriber.wait(timeout=120)
    except subprocess.TimeoutExpired:
        subscriber.kill()
        raise RuntimeError(
            f"the subscriber did not get all {len(messages):,} messages in 120 s"
        ) from None
    return len(messages) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    start_ms = time.time_ns() // 1_000_000 - 300_000
    # 1,000 readings per device: 100 ms apart, so all fall inside ingest's allowed clock skew.
    messages = bts_messages(args.messages, BEHIND, start_ms, interval_ms=100)
    with tempfile.TemporaryDirectory(prefix="ioc-bench-auth-") as folder:
        root = Path(folder)
        devices = [("bts", d) for d in device_ids(args.devices, BEHIND + 1)]
        collector = [("serialgw", "loadgen", [("bts", d) for d in device_ids(BEHIND)])]
        made = write_identities(root / "ids", plan_identities("ioc", devices, collector, []))
        secrets = read_secrets(root / "ids")
        login = {name: (name, secret) for name, secret in secrets.items()}
        influx = InfluxProcess(root / "influxd")
        influx.start()
        results = {}
        try:
            for kind in ("anonymous", "locked"):
                locked = kind == "locked"
                broker = MosquittoProcess(
                    root / kind, extra_config=made.mosquitto_config() if locked else ""
                )
                broker.start()
                print(f"{kind}:", flush=True)
                try:
                    seconds = connect_seconds(
                        broker.port, args.devices, secrets if locked else None
                    )
                    rate = delivery_rate(broker.port, messages, login if locked else None)
                    ingest_login = (
                        {"IOC_MQTT_USERNAME": "ioc-ingest",
                         "IOC_MQTT_PASSWORD": secrets["ioc-ingest"]}
                        if locked
                        else {}
                    )  # fmt: skip
                    ingest_rate, stored, _cpu = measure_ingest(
                        broker, influx, messages, root / f"ingest-{kind}",
                        {**ingest_login, "IOC_INFLUX_DB": f"ingest_{kind}"},
                        login["loadgen"] if locked else None,
                    )  # fmt: skip
                    if stored != len(messages):
                        raise RuntimeError(f"{kind}: {stored:,} of {len(messages):,} stored")
                finally:
                    broker.stop()
                results[kind] = (seconds, rate, ingest_rate)
        finally:
            influx.stop()
    print(f"broker authentication: {args.devices:,} devices connecting; {len(messages):,} "
          f"QoS 1 messages from a collector of {BEHIND} devices")  # fmt: skip
    print(f"{'broker':<10} {'connect s':>10} {'delivered/s':>12} {'ingested/s':>12}")
    for kind, (seconds, rate, ingest_rate) in results.items():
        print(f"{kind:<10} {seconds:>10.2f} {rate:>12,.0f} {ingest_rate:>12,.0f}")
    (anon_s, anon_rate, anon_ingest) = results["anonymous"]
    (locked_s, locked_rate, locked_ingest) = results["locked"]
    print(f"locked / anonymous: connect time {locked_s / anon_s:.2f}x, "
          f"delivery rate {locked_rate / anon_rate:.2f}x, "
          f"ingest rate {locked_ingest / anon_ingest:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
