"""What locking the broker costs: the same loads against an anonymous Mosquitto and against one
with `ioc identities make`'s password file and ACL (anonymous off), in the same run.

- connect: N simulated devices (firmware_sim, one process) connecting, each as itself on the
  locked broker (its secret checked with PBKDF2-SHA512), until all are up;
- delivery: a collector publishing M QoS 1 readings for its 100 devices (each publish checked
  against its 300 ACL entries) to a subscribed ioc service (each delivery checked for read).

Printed: seconds to connect, messages/s delivered, and locked / anonymous ratios.
Usage: python bench/broker_auth.py [--devices 2000] [--messages 20000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim import Simulator, SimulatorOptions
from firmware_sim.fleet import DeviceSpec
from ioc.broker import MosquittoProcess, plan_identities, read_secrets, write_identities

BEHIND = 100  # devices the collector publishes for


def device_ids(count: int, prefix: str = "bts-QT") -> list[str]:
    return [f"{prefix}-{i + 1:05d}" for i in range(count)]


def behind_ids() -> list[str]:
    """The collector's devices: apart from the simulated ones, which log in as themselves."""
    return device_ids(BEHIND, "bts-LG")


def connect_seconds(port: int, devices: int, credentials: dict[str, str] | None) -> float:
    fleet = [DeviceSpec(d, "bts", 60.0) for d in device_ids(devices)]
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


def delivery_rate(port: int, messages: int, login: dict[str, tuple[str, str]] | None) -> float:
    sub_login = ["-u", login["ioc-ingest"][0], "-P", login["ioc-ingest"][1]] if login else []
    subscriber = subprocess.Popen(
        ["mosquitto_sub", "-p", str(port), *sub_login, "-q", "1", "-t", "ioc/#",
         "-C", str(messages), "-i", "bench-sub"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(0.5)
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="loadgen", protocol=mqtt.MQTTv5)
    if login:
        publisher.username_pw_set(*login["loadgen"])
    publisher.max_inflight_messages_set(1000)
    publisher.max_queued_messages_set(0)
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    topics = [f"ioc/bts/{d}/telemetry" for d in behind_ids()]
    payload = b'{"ts": 1790000000000, "metrics": {"battery_v": 53.9}}'
    started = time.monotonic()
    for index in range(messages):
        publisher.publish(topics[index % BEHIND], payload, qos=1)
    try:
        subscriber.wait(timeout=120)
    except subprocess.TimeoutExpired:
        subscriber.kill()
        raise RuntimeError(
            f"the subscriber did not get all {messages:,} messages in 120 s"
        ) from None
    elapsed = time.monotonic() - started
    publisher.loop_stop()
    publisher.disconnect()
    return messages / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ioc-bench-auth-") as folder:
        root = Path(folder)
        devices = [("bts", d) for d in device_ids(args.devices)]
        collector = [("serialgw", "loadgen", [("bts", d) for d in behind_ids()])]
        made = write_identities(root / "ids", plan_identities("ioc", devices, collector, []))
        secrets = read_secrets(root / "ids")
        login = {name: (name, secret) for name, secret in secrets.items()}
        results = {}
        for kind in ("anonymous", "locked"):
            locked = kind == "locked"
            broker = MosquittoProcess(
                root / kind,
                extra_config=made.mosquitto_config() if locked else "",
            )
            broker.start()
            try:
                seconds = connect_seconds(broker.port, args.devices, secrets if locked else None)
                rate = delivery_rate(broker.port, args.messages, login if locked else None)
            finally:
                broker.stop()
            results[kind] = (seconds, rate)
    (anon_s, anon_rate), (locked_s, locked_rate) = results["anonymous"], results["locked"]
    print(f"broker authentication: {args.devices:,} devices connecting, {args.messages:,} "
          f"QoS 1 messages from a collector of {BEHIND} devices")  # fmt: skip
    print(f"{'broker':<10} {'connect s':>10} {'delivered/s':>12}")
    for kind, (seconds, rate) in results.items():
        print(f"{kind:<10} {seconds:>10.2f} {rate:>12,.0f}")
    print(f"locked / anonymous: connect time {locked_s / anon_s:.2f}x, "
          f"delivery rate {locked_rate / anon_rate:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
