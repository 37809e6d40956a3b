"""Alert latency under load: a faulty message published to the broker -> the alert stored and
published on MQTT, while `ioc run` ingests steady background telemetry into InfluxDB.

Baseline in the same run and under the same load: the broker's own round trip (publish ->
a subscriber receives it). The alert path is the same trip plus ingest, the rule engine, the
state database (SQLite) write and the alert's publication.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen import bts_messages
from ioc.broker import MosquittoProcess, free_port
from ioc.inventory import FleetShape, generate_inventory, write_inventory
from tests.support.influx import InfluxProcess
from tests.support.mqtt import has_subscriber, wait_until
from tests.support.packets import connect_packet, publish_packet


class PacedLoad:
    """Background telemetry at a steady rate, pre-encoded, sent in 10 ms slices."""

    def __init__(self, port: int, messages: list[tuple[str, bytes]], rate: int) -> None:
        self.port = port
        self.packets = [
            publish_packet(topic.encode(), payload, mid=index % 65535 + 1)
            for index, (topic, payload) in enumerate(messages)
        ]
        self.rate = rate
        self.sent = 0
        self.stop = threading.Event()

    def run(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(connect_packet("bench-background"))
        assert sock.recv(4)[:1] == b"\x20", "no CONNACK"
        threading.Thread(target=self._drain, args=(sock,), daemon=True).start()
        per_slice = max(1, self.rate // 100)
        started = time.monotonic()
        slice_index = 0
        while not self.stop.is_set() and self.sent < len(self.packets):
            batch = self.packets[self.sent : self.sent + per_slice]
            sock.sendall(b"".join(batch))
            self.sent += len(batch)
            slice_index += 1
            delay = started + slice_index / 100 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sock.close()

    @staticmethod
    def _drain(sock: socket.socket) -> None:
        try:
            while sock.recv(1 << 16):
                pass
        except OSError:
            return


class Probe:
    """Publishes faulty readings and pings; times when their alert / echo comes back."""

    def __init__(self, port: int) -> None:
        self.sent: dict[str, float] = {}
        self.received: dict[str, float] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-probe")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([("ioc/alerts/bts/+/bts.battery_low", 1), ("bench/ping/+", 1)])
        self.client.loop_start()

    def _on_message(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        if message.topic.startswith("bench/ping/"):
            self.received.setdefault(message.topic, now)
            return
        event = orjson.loads(message.payload)
        if event["event"] == "fired":
            self.received.setdefault(f"alert/{event['alert']['device_id']}", now)

    def fault(self, device_id: str) -> None:
        body = {"ts": time.time_ns() // 1_000_000, "metrics": {"battery_v": 45.5}}
        self.sent[f"alert/{device_id}"] = time.monotonic()
        self.client.publish(f"ioc/bts/{device_id}/telemetry", orjson.dumps(body), qos=1)

    def ping(self, index: int) -> None:
        topic = f"bench/ping/{index}"
        self.sent[topic] = time.monotonic()
        self.client.publish(topic, b"x", qos=1)

    def latencies_ms(self, prefix: str) -> list[float]:
        return sorted(
            (self.received[key] - sent) * 1000
            for key, sent in self.sent.items()
            if key.startswith(prefix) and key in self.received
        )


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=10_000, help="background messages/s")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--faults", type=int, default=200)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ioc-bench-latency-"))
    inventory = workdir / "inventory.json"
    write_inventory(generate_inventory(FleetShape.for_device_count(13_000), 7), inventory)
    background_devices = 10_000  # bts-QT-00001..10000; faults go to the BTS beyond them
    start_ms = time.time_ns() // 1_000_000
    messages = bts_messages(int(args.rate * args.seconds), background_devices, start_ms)
    broker = MosquittoProcess(workdir / "mosquitto")
    influx = InfluxProcess(workdir / "influxd")
    broker.start()
    influx.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
        "IOC_MQTT_URL": broker.url,
        "IOC_INFLUX_URL": influx.url,
        "IOC_INFLUX_API": "v1",
        "IOC_INFLUX_DB": "latency",
        "IOC_INVENTORY": str(inventory),
        "IOC_DATA_DIR": str(workdir / "ioc"),
        "IOC_LOG_LEVEL": "WARNING",
        "IOC_API_PORT": str(free_port()),
    }
    ioc = subprocess.Popen([sys.executable, "-m", "ioc", "run"], env=env)
    print(
        f"bench: `ioc run` with {args.rate:,} msg/s of 8-metric BTS telemetry from "
        f"{background_devices:,} devices for {args.seconds:.0f} s; {args.faults} faulty readings "
        f"and {args.faults} pings spread over it; {os.cpu_count()} cores shared",
        flush=True,
    )
    try:
        wait_until(lambda: has_subscriber(broker.port), 60, "ioc subscribed")
        time.sleep(2.0)
        probe = Probe(broker.port)
        load = PacedLoad(broker.port, messages, args.rate)
        loader = threading.Thread(target=load.run)
        started = time.monotonic()
        loader.start()
        time.sleep(2.0)  # let the load settle
        gap = (args.seconds - 4.0) / args.faults
        for index in range(args.faults):
            probe.fault(f"bts-QT-{background_devices + 1 + index:05d}")
            time.sleep(gap / 2)
            probe.ping(index)
            time.sleep(gap / 2)
        loader.join()
        elapsed = time.monotonic() - started
        time.sleep(3.0)  # stragglers
        alerts, pings = probe.latencies_ms("alert/"), probe.latencies_ms("bench/ping/")
        series = influx.query('SELECT count("temp_c") FROM "bts"', "latency")
        stored = int(series[0]["values"][0][1]) if series else 0  # type: ignore[index]
        print(
            f"  background: {load.sent / elapsed:,.0f} msg/s sent, {stored:,} of {load.sent:,} "
            "stored in InfluxDB by the end",
            flush=True,
        )
        print(
            f"  broker round trip (baseline): p50 {percentile(pings, 0.5):6.1f} ms, "
            f"p99 {percentile(pings, 0.99):6.1f} ms ({len(pings)} of {args.faults})"
        )
        p50, p99 = percentile(alerts, 0.5), percentile(alerts, 0.99)
        print(
            f"  fault -> alert stored and published: p50 {p50:6.1f} ms, p99 {p99:6.1f} ms "
            f"({len(alerts)} of {args.faults} alerts; bar p99 <= 500 ms: "
            f"{'met' if p99 <= 500 and len(alerts) == args.faults else 'NOT MET'})"
        )
        print(
            f"  ratio to the broker round trip: p50 {p50 / percentile(pings, 0.5):.1f}x, "
            f"p99 {p99 / percentile(pings, 0.99):.1f}x"
        )
    finally:
        ioc.terminate()
        ioc.wait(timeout=60)
        broker.stop()
        influx.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
