"""Command line: simulate a fleet from an inventory against an MQTT broker."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from firmware_sim.faults import FaultKind, parse_fault, read_scenario
from firmware_sim.fleet import load_fleet
from firmware_sim.runner import SimCounters, Simulator, SimulatorOptions, read_credentials


def build_parser() -> argparse.ArgumentParser:
    """The simulator's options."""
    parser = argparse.ArgumentParser(prog="firmware_sim", description=__doc__)
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--prefix", default="ioc", help="topic prefix (default: ioc)")
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--profiles", type=Path, required=True, help="folder of profile YAMLs")
    parser.add_argument("--devices", type=int, default=None, help="simulate only the first N")
    parser.add_argument("--classes", default=None, help="comma-separated classes to simulate")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="time compression: 10 reports ten times as often, physics 10x faster",
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        help=f"KIND:DEVICE[@AT][/DURATION]; KIND is one of {', '.join(FaultKind)}",
    )
    parser.add_argument("--scenario", type=Path, default=None, help="YAML file of faults")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--protocol",
        choices=["5", "3.1.1"],
        default="5",
        help="MQTT version (5: a refused publish is counted with its reason)",
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="CSV of identity,kind,secret (`ioc identities make`): each device logs in as itself",
    )
    parser.add_argument("--quiet", action="store_true", help="no live status line")
    return parser


def status_line(counters: SimCounters, started: float, devices: int) -> str:
    """One line: connected devices, messages sent, rate and garbage."""
    elapsed = max(time.monotonic() - started, 1e-9)
    garbage = sum(counters.garbage_sent.values())
    return (
        f"sim: {counters.connected}/{devices} connected, {counters.telemetry_sent} telemetry "
        f"({counters.telemetry_sent / elapsed:.0f}/s), {counters.events_sent} events, "
        f"{garbage} garbage, {counters.connect_failures} connect failures, "
        f"{counters.refused} refused"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until its duration ends or it is interrupted."""
    args = build_parser().parse_args(argv)
    url = urlsplit(args.mqtt_url)
    if url.scheme != "mqtt" or not url.hostname:
        print(
            f"firmware_sim: --mqtt-url must be mqtt://host:port, got {args.mqtt_url!r}",
            file=sys.stderr,
        )
        return 2
    try:
        faults = [parse_fault(text) for text in args.fault]
        if args.scenario:
            faults += read_scenario(args.scenario)
        classes = frozenset(args.classes.split(",")) if args.classes else None
        fleet = load_fleet(args.inventory, args.profiles, args.devices, classes)
        options = SimulatorOptions(
            host=url.hostname,
            port=url.port or 1883,
            topic_prefix=args.prefix,
            speed=args.speed,
            seed=args.seed,
            username=url.username,
            password=url.password,
            credentials=read_credentials(args.credentials) if args.credentials else None,
            protocol=args.protocol,
        )
        simulator = Simulator(fleet, options, faults)
    except (OSError, ValueError, KeyError) as exc:
        print(f"firmware_sim: {exc}", file=sys.stderr)
        return 2
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    show = (
        None
        if args.quiet
        else (
            lambda counters: print(
                "\r" + status_line(counters, started, len(fleet)),
                end="",
                file=sys.stderr,
                flush=True,
            )
        )
    )
    counters = simulator.run(args.duration, lambda: stopping, show)
    print("\n" + status_line(counters, started, len(fleet)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
