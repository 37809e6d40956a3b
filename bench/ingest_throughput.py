"""End-to-end ingest throughput beside two same-run baselines.

  load generator -> Mosquitto -> ioc ingest (its own process) -> influxd 1.6.7

Baselines, measured in the same run on the same machine:
  broker   mosquitto_sub consuming the same stream (the broker's delivery limit)
  influx   the same points posted straight to influxd in 10,000-point batches
And the simulator's capacity: devices one process keeps connected and reporting.

Usage: python bench/ingest_throughput.py [--messages 300000] [--devices 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import paho.mqtt.client as mqtt  # noqa: E402
import urllib3  # noqa: E402
from loadgen import LoadGenerator, bts_messages  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from ioc.broker import MosquittoProcess  # noqa: E402
from tests.support.influx import InfluxProcess  # noqa: E402
from tests.support.mqtt import wait_until  # noqa: E402


def measure_broker(broker: MosquittoProcess, messages: list[tuple[str, bytes]]) -> float:
    """Messages/s that mosquitto_sub receives at QoS 1."""
    sub = subprocess.Popen(
        [
            "mosquitto_sub",
            "-p",
            str(broker.port),
            "-q",
            "1",
            "-t",
            "ioc/#",
            "-C",
            str(len(messages)),
            "-i",
            "bench-sub",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)
    generator = LoadGenerator(broker.port, messages, "bench-broker")
    started = time.monotonic()
    generator.run()
    sub.wait(timeout=600)
    return len(messages) / (time.monotonic() - started)


def measure_influx(influx: InfluxProcess, messages: list[tuple[str, bytes]]) -> float:
    """Points/s that influxd takes when the same points are posted in big batches."""
    import orjson

    lines = []
    for topic, payload in messages:
        document = orjson.loads(payload)
        device = topic.split("/")[2]
        fields = ",".join(
            f"{k}={'true' if v is True else 'false' if v is False else repr(float(v))}"
            for k, v in document["metrics"].items()
        )
        lines.append(f"bts,device_id={device},province=QT {fields} {document['ts']}")
    http = urllib3.PoolManager()
    http.request("POST", f"{influx.url}/query?q=CREATE+DATABASE+direct")
    started = time.monotonic()
    for offset in range(0, len(lines), 10_000):
        body = "\n".join(lines[offset : offset + 10_000]).encode()
        response = http.request("POST", f"{influx.url}/write?db=direct&precision=ms", body=body)
        assert response.status == 204, response.data
    return len(lines) / (time.monotonic() - started)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def points_written(influx: InfluxProcess) -> int:
    """influxd's own counter of points written over HTTP (cheap, unlike a count query)."""
    for series in influx.query("SHOW STATS FOR 'httpd'"):
        columns = series["columns"]
        return int(series["values"][0][columns.index("pointsWrittenOK")])  # type: ignore[index,union-attr]
    return 0


def count_points(influx: InfluxProcess, db: str) -> int:
    series = influx.query('SELECT count("temp_c") FROM "bts"', db)
    return int(series[0]["values"][0][1]) if series else 0  # type: ignore[index]


def _stores_a_status(
    broker: MosquittoProcess, influx: InfluxProcess, topic: str, login: tuple[str, str] | None
) -> bool:
    """Publish a status and say whether influxd took a point within a second."""
    before = points_written(influx)
    user = ["-u", login[0], "-P", login[1]] if login else []
    subprocess.run(
        ["mosquitto_pub", "-p", str(broker.port), *user, "-q", "1", "-t", topic, "-m", "online"],
        check=True,
    )
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if points_written(influx) > before:
            return True
        time.sleep(0.05)
    return False


class IngestRun(NamedTuple):
    """One end-to-end ingest run: messages/s, points stored, and ingest's CPU seconds."""

    rate: float
    stored: int
    ingest_cpu_s: float


def measure_ingest(
    broker: MosquittoProcess,
    influx: InfluxProcess,
    messages: list[tuple[str, bytes]],
    workdir: Path,
    settings: dict[str, str],
    publisher: tuple[str, str] | None = None,
    ingestors: int = 1,
) -> IngestRun:
    """Messages/s from first publish until every point is counted in InfluxDB, through
    `ingestors` `ioc ingest` processes (more than one: members of one shared subscription, as
    the nodes of a cluster are); on a locked broker the load generator (and the readiness
    check) log in as `publisher`."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
        "IOC_MQTT_URL": broker.url,
        "IOC_INFLUX_URL": influx.url,
        "IOC_INFLUX_API": "v1",
        "IOC_INFLUX_DB": "ingest",
        "IOC_DATA_DIR": str(workdir / "ioc"),
        "IOC_LOG_LEVEL": "WARNING",
        **settings,
    }
    client_ids = [f"bench-ingest-{n}" for n in range(ingestors)]
    if ingestors > 1:
        env["IOC_MQTT_SHARED_GROUP"] = "bench"
    ingests = [
        subprocess.Popen(
            [sys.executable, "-m", "ioc", "ingest"], env=env | {"IOC_MQTT_CLIENT_ID": client_id}
        )
        for client_id in client_ids
    ]
    try:
        # Ready when it stores: $SYS counts subscriptions only every few seconds, so an earlier
        # subscriber (the broker baseline's) can still be counted while ingest is not there.
        # The group's members take turns: one status stored per member.
        status_topic = messages[0][0].rsplit("/", 1)[0] + "/status"
        for _ in ingests:
            wait_until(
                lambda: _stores_a_status(broker, influx, status_topic, publisher),
                timeout_s=60,
                what="ingest storing",
            )
        generator = LoadGenerator(broker.port, messages, "bench-ingest", publisher)
        processes = {
            **{f"ingest {n + 1}": ingest.pid for n, ingest in enumerate(ingests)},
            "mosquitto": broker.process.pid,  # type: ignore[union-attr]
            "influxd": influx.process.pid,
        }  # type: ignore[union-attr]
        cpu_before = {name: cpu_seconds(pid) for name, pid in processes.items()}
        written_before = points_written(influx)
        started = time.monotonic()
        threading.Thread(target=generator.run).start()
        written = 0
        while written < len(messages) and time.monotonic() - started < 600:
            time.sleep(0.1)
            written = points_written(influx) - written_before
        elapsed = time.monotonic() - started
        used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in processes.items()}
        shares = ", ".join(f"{name} {seconds / elapsed:.0%}" for name, seconds in used.items())
        print(f"  CPU during the end-to-end run (share of one core): {shares}", flush=True)
        ingest_cpu = sum(seconds for name, seconds in used.items() if name.startswith("ingest"))
        time.sleep(2)  # anything extra would be a duplicate or a stray
        stored = count_points(influx, env["IOC_INFLUX_DB"])
        return IngestRun(len(messages) / elapsed, stored, ingest_cpu)
    finally:
        for ingest in ingests:
            ingest.terminate()
        for ingest in ingests:
            ingest.wait(timeout=30)
        # ingest keeps its session when it stops: the next run must not share the broker
        # with sessions that go on queueing every message.
        forget_sessions(broker.port, client_ids, publisher)


def forget_sessions(port: int, client_ids: list[str], login: tuple[str, str] | None) -> None:
    """Make the broker drop these clients' sessions (connect with a clean session)."""
    for client_id in client_ids:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                             protocol=mqtt.MQTTv311)  # fmt: skip
        if login is not None:
            client.username_pw_set(*login)
        client.connect("127.0.0.1", port)
        client.loop_start()
        wait_until(client.is_connected, timeout_s=10, what=f"{client_id} forgotten")
        client.disconnect()
        client.loop_stop()


def measure_simulator(broker: MosquittoProcess, devices: int, seconds: float) -> str:
    """Run `devices` simulated BTS from one process at 60x speed (one report each per second)."""
    from firmware_sim import Simulator, SimulatorOptions
    from firmware_sim.fleet import DeviceSpec

    fleet = [DeviceSpec(f"bts-QT-{i + 1:05d}", "bts", 60.0) for i in range(devices)]
    simulator = Simulator(fleet, SimulatorOptions(port=broker.port, speed=60.0))
    connected_at = 0.0

    def watch(_counters: object) -> None:
        nonlocal connected_at
        if not connected_at and simulator.counters.connected >= devices:
            connected_at = time.monotonic()

    started = time.monotonic()
    counters = simulator.run(duration_s=seconds, on_status=watch, status_every_s=0.2)
    steady_s = time.monotonic() - (connected_at or started)
    rate = counters.telemetry_sent / max(time.monotonic() - started, 1e-9)
    return (
        f"{counters.connects:,} of {devices:,} devices connected from one process in "
        f"{(connected_at or time.monotonic()) - started:.1f} s; {rate:,.0f} reports/s over "
        f"{seconds:.0f} s (schedule: {devices:,}/s once all are up, {steady_s:.0f} s of it)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--sim-devices", type=int, default=10_000)
    parser.add_argument("--skip-sim", action="store_true")
    parser.add_argument(
        "--protocol", choices=["5", "3.1.1"], default="5", help="MQTT protocol of the ingestor"
    )
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--max-in-flight", type=int, default=40000)
    args = parser.parse_args()
    if not shutil.which("mosquitto_sub"):
        print("bench: needs mosquitto_sub (apt-get install mosquitto-clients)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
    start_ms = (time.time_ns() // 1_000_000) - 300_000
    messages = bts_messages(args.messages, args.devices, start_ms)
    print(
        f"bench: {len(messages):,} 8-metric BTS messages from {args.devices:,} devices, "
        f"{os.cpu_count()} cores shared by every process",
        flush=True,
    )
    broker = MosquittoProcess(workdir / "mosquitto")
    influx = InfluxProcess(workdir / "influxd")
    broker.start()
    influx.start()
    try:
        broker_rate = measure_broker(broker, messages)
        print(f"  broker delivery (mosquitto_sub, QoS 1): {broker_rate:10,.0f} msg/s", flush=True)
        influx_rate = measure_influx(influx, messages)
        print(
            f"  influxd direct (10k-point batches):     {influx_rate:10,.0f} points/s", flush=True
        )
        ingest_rate, stored, _cpu = measure_ingest(
            broker,
            influx,
            messages,
            workdir,
            {
                "IOC_MQTT_PROTOCOL": args.protocol,
                "IOC_BATCH_SIZE": str(args.batch_size),
                "IOC_MAX_IN_FLIGHT": str(args.max_in_flight),
            },
        )
        print(
            f"  ioc end to end into InfluxDB:           {ingest_rate:10,.0f} msg/s "
            f"({stored:,} of {len(messages):,} stored, "
            f"{'zero loss' if stored == len(messages) else 'LOSS OR DUPLICATES'})"
        )
        print(
            f"  ratio to broker delivery: {ingest_rate / broker_rate:.2f}; "
            f"ratio to influxd direct: {ingest_rate / influx_rate:.2f}",
            flush=True,
        )
        if not args.skip_sim:
            print(f"  simulator: {measure_simulator(broker, args.sim_devices, 20.0)}")
    finally:
        broker.stop()
        influx.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
