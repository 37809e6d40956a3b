"""End-to-end ingest throughput beside same-run baselines, in rounds, and a backlog drain.

  load generator -> Mosquitto -> ioc ingest (its own process) -> influxd 1.6.7

Baselines, measured in the same round on the same machine:
  broker    mosquitto_sub consuming the same stream (the broker's delivery limit)
  influx    the same points posted straight to influxd in 10,000-point batches
  Node-RED  the same stream through Node-RED's batched flow (bench/nodered.py)
Then a backlog: messages queued in ingest's broker session while it is away, drained when it
starts, against the same messages arriving live. And the simulator's capacity: devices one
process keeps connected and reporting.

Usage: python bench/ingest_throughput.py [--messages 300000] [--runs 3] [--backlog 600000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
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
    """Points/s that influxd takes when the lines ioc writes for these messages (the same
    series, tags and fields) are posted straight to it in 10,000-point batches."""
    from ioc.app import load_catalog
    from ioc.app._ingest import build_decoder
    from ioc.config import load_settings
    from ioc.store import LineEncoder

    catalog = load_catalog(load_settings())
    decoder = build_decoder(load_settings(), catalog)
    encoder = LineEncoder(catalog.inventory.device_area_tags)
    now_ms = time.time_ns() // 1_000_000
    items = [decoder.decode(topic, payload, False, now_ms).item for topic, payload in messages]
    bodies = [
        encoder.encode([item for item in items[offset : offset + 10_000] if item is not None])
        for offset in range(0, len(items), 10_000)
    ]
    http = urllib3.PoolManager()
    http.request("POST", f"{influx.url}/query?q=CREATE+DATABASE+direct")
    started = time.monotonic()
    for body in bodies:
        response = http.request("POST", f"{influx.url}/write?db=direct&precision=ms", body=body)
        assert response.status == 204, response.data
    return len(items) / (time.monotonic() - started)


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


def _until_written(
    influx: InfluxProcess, count: int, before: int, started: float, limit_s: float
) -> float:
    """Seconds from `started` until influxd counted `count` points written after `before`."""
    while points_written(influx) - before < count and time.monotonic() - started < limit_s:
        time.sleep(0.1)
    return time.monotonic() - started


def count_points(influx: InfluxProcess, db: str) -> int:
    series = influx.query('SELECT count("temp_c") FROM "bts"', db)
    return int(series[0]["values"][0][1]) if series else 0  # type: ignore[index]


def _stores_one(
    broker: MosquittoProcess,
    influx: InfluxProcess,
    message: tuple[str, bytes],
    login: tuple[str, str] | None = None,
) -> bool:
    """Publish one message and say whether influxd took a point within a second."""
    before = points_written(influx)
    user = ["-u", login[0], "-P", login[1]] if login else []
    subprocess.run(
        ["mosquitto_pub", "-p", str(broker.port), *user, "-q", "1", "-t", message[0],
         "-m", message[1]],
        check=True,
    )  # fmt: skip
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
    profile: Path | None = None,
    code: Path | None = None,
) -> IngestRun:
    """Messages/s from first publish until every point is counted in InfluxDB, through
    `ingestors` `ioc ingest` processes (more than one: members of one shared subscription, as
    the nodes of a cluster are); on a locked broker the load generator (and the readiness
    check) log in as `publisher`."""
    env = _ingest_env(broker, influx, workdir, settings)
    # This checkout's ioc (or another's), found before the installed one: a bench run from a
    # snapshot of the tree measures that snapshot, whatever is edited meanwhile.
    code = code or ROOT
    env["PYTHONPATH"] = str(code)
    client_ids = [f"bench-ingest-{n}" for n in range(ingestors)]
    if ingestors > 1:
        env["IOC_MQTT_SHARED_GROUP"] = "bench"
    ingests = [
        subprocess.Popen(
            [sys.executable, "-m", "ioc", "ingest"],
            env=env | {"IOC_MQTT_CLIENT_ID": client_id},
            cwd=code,  # `python -m` looks in the working directory first
        )
        for client_id in client_ids
    ]
    spy = None
    try:
        # Ready when it stores: $SYS counts subscriptions only every few seconds, so an earlier
        # subscriber (the broker baseline's) can still be counted while ingest is not there.
        # The group's members take turns: one status stored per member.
        status_topic = messages[0][0].rsplit("/", 1)[0] + "/status"
        for _ in ingests:
            wait_until(
                lambda: _stores_one(broker, influx, (status_topic, b"online"), publisher),
                timeout_s=60,
                what="ingest storing",
            )
        generator = LoadGenerator(broker.port, messages, "bench-ingest", publisher)
        processes = {
            **{f"ingest {n + 1}": ingest.pid for n, ingest in enumerate(ingests)},
            "mosquitto": broker.process.pid,  # type: ignore[union-attr]
            "influxd": influx.process.pid,
        }  # type: ignore[union-attr]
        if profile is not None:  # py-spy samples the (first) ingest without pausing it
            spy = subprocess.Popen(
                [shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                 "record", "--pid", str(ingests[0].pid), "--nonblocking", "--format", "raw",
                 "--rate", "200", "--output", str(profile)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        cpu_before = {name: cpu_seconds(pid) for name, pid in processes.items()}
        written_before = points_written(influx)
        started = time.monotonic()
        threading.Thread(target=generator.run).start()
        elapsed = _until_written(influx, len(messages), written_before, started, 600)
        used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in processes.items()}
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # it writes the profile and ends
            spy.wait(timeout=60)
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


def measure_nodered(
    broker: MosquittoProcess,
    influx: InfluxProcess,
    messages: list[tuple[str, bytes]],
    workdir: Path,
) -> IngestRun:
    """The same stream through Node-RED's batched flow (bench/nodered.py) into influxd."""
    from nodered import NodeRed

    influx.query('DROP DATABASE "nodered"')
    influx.query('CREATE DATABASE "nodered"')
    red = NodeRed(workdir / "node-red", broker.port, influx.url, "nodered")
    red.start()
    try:
        # Ready when a probe message reaches influxd (its point lies in 1970, not counted).
        probe = (messages[0][0], b'{"ts": 1, "metrics": {"temp_c": 1.0}}')
        wait_until(lambda: _stores_one(broker, influx, probe), 120, "Node-RED storing")
        generator = LoadGenerator(broker.port, messages, "bench-nodered-load")
        assert red.process is not None
        cpu_before = cpu_seconds(red.process.pid)
        written_before = points_written(influx)
        started = time.monotonic()
        threading.Thread(target=generator.run).start()
        elapsed = _until_written(influx, len(messages), written_before, started, 600)
        used = cpu_seconds(red.process.pid) - cpu_before
        time.sleep(1)
        series = influx.query(
            'SELECT count("temp_c") FROM "bts" WHERE time > \'2000-01-01T00:00:00Z\'', "nodered"
        )
        stored = int(series[0]["values"][0][1]) if series else 0  # type: ignore[index]
        return IngestRun(len(messages) / elapsed, stored, used)
    except Exception:
        print(red.log_tail(), file=sys.stderr)
        raise
    finally:
        red.stop()


def _ingest_env(
    broker: MosquittoProcess, influx: InfluxProcess, workdir: Path, settings: dict[str, str]
) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
        "IOC_MQTT_URL": broker.url,
        "IOC_INFLUX_URL": influx.url,
        "IOC_INFLUX_API": "v1",
        "IOC_INFLUX_DB": "ingest",
        "IOC_DATA_DIR": str(workdir / "ioc"),
        "IOC_LOG_LEVEL": "WARNING",
        **settings,
    }


def measure_backlog(
    broker: MosquittoProcess,
    influx: InfluxProcess,
    messages: list[tuple[str, bytes]],
    workdir: Path,
    settings: dict[str, str],
) -> IngestRun:
    """The messages queued in ingest's broker session while it is away, then `ioc ingest`
    started: messages/s from its start (Python's start-up included) until the last is stored."""
    env = _ingest_env(broker, influx, workdir, settings) | {
        "IOC_MQTT_CLIENT_ID": "bench-backlog",
        "PYTHONPATH": str(ROOT),
    }
    status = (messages[0][0].rsplit("/", 1)[0] + "/status", b"online")
    command = [sys.executable, "-m", "ioc", "ingest"]
    first = subprocess.Popen(command, env=env, cwd=ROOT)  # its session stays on the broker
    try:
        wait_until(lambda: _stores_one(broker, influx, status), 60, "ingest storing")
    finally:
        first.terminate()
        first.wait(timeout=30)
    LoadGenerator(broker.port, messages, "bench-backlog-load").run()  # all queued for ingest
    written_before = points_written(influx)
    started = time.monotonic()
    ingest = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        elapsed = _until_written(influx, len(messages), written_before, started, 900)
        used = cpu_seconds(ingest.pid)
        time.sleep(2)
        return IngestRun(len(messages) / elapsed, count_points(influx, "ingest"), used)
    finally:
        ingest.terminate()
        ingest.wait(timeout=30)
        forget_sessions(broker.port, ["bench-backlog"], None)


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
    parser.add_argument("--runs", type=int, default=3, help="rounds of every measurement")
    parser.add_argument(
        "--backlog",
        type=int,
        default=600_000,
        help="messages queued while ingest is away (0: skip the scenario)",
    )
    parser.add_argument("--skip-nodered", action="store_true")
    parser.add_argument("--sim-devices", type=int, default=10_000)
    parser.add_argument("--skip-sim", action="store_true")
    parser.add_argument(
        "--protocol", choices=["5", "3.1.1"], default="5", help="MQTT protocol of the ingestor"
    )
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--max-in-flight", type=int, default=40000)
    parser.add_argument("--writers", type=int, default=2, help="ingest's store writers")
    parser.add_argument("--gzip", action="store_true", help="ingest compresses its writes")
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="also measure the ioc of this checkout (a git worktree of an earlier commit) in "
        "every round: before and after in one run",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="sample ioc ingest with py-spy into this file (collapsed stacks)",
    )
    args = parser.parse_args()  # fmt: skip
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
    settings = {
        "IOC_MQTT_PROTOCOL": args.protocol,
        "IOC_BATCH_SIZE": str(args.batch_size),
        "IOC_MAX_IN_FLIGHT": str(args.max_in_flight),
        "IOC_STORE_WRITERS": str(args.writers),
    }
    if args.gzip:  # only when asked: a --before checkout may not know the setting
        settings["IOC_INFLUX_GZIP"] = "true"
    broker = MosquittoProcess(workdir / "mosquitto")
    influx = InfluxProcess(workdir / "influxd")
    broker.start()
    influx.start()
    summary = []
    try:
        for run in range(1, args.runs + 1):
            print(f"run {run} of {args.runs}", flush=True)
            broker_rate = measure_broker(broker, messages)
            print(
                f"  broker delivery (mosquitto_sub, QoS 1): {broker_rate:10,.0f} msg/s", flush=True
            )
            influx.query('DROP DATABASE "direct"')
            influx_rate = measure_influx(influx, messages)
            print(
                f"  influxd direct (10k-point batches):     {influx_rate:10,.0f} points/s",
                flush=True,
            )
            red = None
            if not args.skip_nodered and shutil.which("npm") is None:
                print("  Node-RED baseline skipped: it needs Node.js and npm", flush=True)
                args.skip_nodered = True
            if not args.skip_nodered:
                red = measure_nodered(broker, influx, messages, workdir)
                _print_run("Node-RED batched flow into InfluxDB:   ", red, len(messages), "")
            influx.query('DROP DATABASE "ingest"')
            ioc = measure_ingest(broker, influx, messages, workdir, settings, profile=args.profile)
            _print_run("ioc end to end into InfluxDB:          ", ioc, len(messages))
            line = (
                f"  run {run}: ioc/influxd direct {ioc.rate / influx_rate:.2f}x, "
                f"ioc/broker {ioc.rate / broker_rate:.2f}x"
            )
            if args.before is not None:
                influx.query('DROP DATABASE "ingest"')
                old = measure_ingest(broker, influx, messages, workdir, settings, code=args.before)
                _print_run(f"ioc before ({args.before.name}):".ljust(39), old, len(messages))
                line += (
                    f", ioc CPU per message {ioc.ingest_cpu_s / old.ingest_cpu_s:.2f}x before's"
                    f", msg/s {ioc.rate / old.rate:.2f}x before's"
                )
            if red is not None:
                line += (
                    f", ioc/Node-RED {ioc.rate / red.rate:.2f}x, ioc CPU per message "
                    f"{ioc.ingest_cpu_s / max(red.ingest_cpu_s, 1e-9):.2f}x Node-RED's"
                )
            print(line, flush=True)
            summary.append(line)
        if args.backlog:
            backlog_messages = bts_messages(args.backlog, args.devices, start_ms)
            influx.query('DROP DATABASE "ingest"')
            live = measure_ingest(broker, influx, backlog_messages, workdir, settings)
            influx.query('DROP DATABASE "ingest"')
            drained = measure_backlog(broker, influx, backlog_messages, workdir, settings)
            count = len(backlog_messages)
            line = (
                f"  backlog of {count:,}: drained at {drained.rate:,.0f} msg/s in "
                f"{count / drained.rate:.1f} s ({_loss(drained.stored, count)}; "
                f"{drained.ingest_cpu_s / count * 1e6:.1f} µs CPU/msg) against "
                f"{live.rate:,.0f} msg/s live: {drained.rate / live.rate:.2f}x"
            )
            print(line, flush=True)
            summary.append(line)
        if not args.skip_sim:
            print(f"  simulator: {measure_simulator(broker, args.sim_devices, 20.0)}")
        print("summary:\n" + "\n".join(summary))
    finally:
        broker.stop()
        influx.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _print_run(label: str, run: IngestRun, sent: int, whose: str = "ingest ") -> None:
    print(
        f"  {label} {run.rate:10,.0f} msg/s ({_loss(run.stored, sent)}), "
        f"{run.ingest_cpu_s / sent * 1e6:.1f} µs {whose}CPU/msg",
        flush=True,
    )


def _loss(stored: int, sent: int) -> str:
    return "zero loss" if stored == sent else f"{stored:,} of {sent:,} stored: LOSS OR DUPLICATES"


if __name__ == "__main__":
    sys.exit(main())
