"""`ioc demo`: a whole province simulated on this machine with no servers to install."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from firmware_sim import DeviceSpec, Fault, FaultKind, Simulator, SimulatorOptions, load_fleet
from ioc.app._catalog import load_catalog
from ioc.app._ingest import IngestService
from ioc.app._status import StatusLine
from ioc.app._stores import open_dead_letters, open_telemetry_store
from ioc.broker import EmbeddedBroker, MosquittoProcess, mosquitto_available
from ioc.config import Settings
from ioc.inventory import bundled_inventory_path, bundled_profiles_dir

EMBEDDED_BROKER_DEVICES = 400


def demo_faults(fleet: Sequence[DeviceSpec]) -> list[Fault]:
    """A few faults on simulated devices, so the demo has something to show."""
    by_class: dict[str, list[str]] = {}
    for device in fleet:
        by_class.setdefault(device.device_class, []).append(device.device_id)
    bts, gateways, vcs = by_class.get("bts", []), by_class.get("netgw", []), by_class.get("vc", [])
    faults: list[Fault] = []
    if len(bts) >= 4:
        faults += [
            Fault(FaultKind.MAINS_FAILURE, bts[0], at_s=60, duration_s=4 * 3600),
            Fault(FaultKind.AIRCON_FAILURE, bts[1], at_s=30),
            Fault(FaultKind.DIE, bts[2], at_s=120),
            Fault(FaultKind.CLOCK_SKEW, bts[3], at_s=0, duration_s=600),
        ]
    if gateways:
        faults += [Fault(FaultKind.LINK_DOWN, gateways[0], at_s=90, duration_s=1800)]
    if len(gateways) >= 2:
        faults += [Fault(FaultKind.LINK_FLAP, gateways[1], at_s=30, duration_s=3600)]
    if vcs:
        faults += [Fault(FaultKind.GARBAGE, vcs[-1], at_s=20, duration_s=600)]
    return faults


def run_demo(
    settings: Settings,
    devices: int | None,
    speed: float,
    duration_s: float | None,
    should_stop: Callable[[], bool],
    embedded_broker: bool = False,
    out: TextIO = sys.stderr,
) -> int:
    """Broker, store, ingest and the simulated province, with a live status line."""
    demo_dir = settings.data_dir / "demo"
    catalog = load_catalog(settings)
    broker: MosquittoProcess | EmbeddedBroker
    if not embedded_broker and mosquitto_available():
        broker, protocol, broker_kind = MosquittoProcess(demo_dir / "mosquitto"), "5", "Mosquitto"
    else:
        broker, protocol = EmbeddedBroker(), "3.1.1"
        broker_kind = (
            "embedded amqtt broker: in memory, acknowledged on receipt; "
            "install Mosquitto for store-then-acknowledge"
        )
    if isinstance(broker, EmbeddedBroker) and devices is None:
        # amqtt keeps up with a few hundred devices, not a province; Mosquitto takes them all.
        devices = EMBEDDED_BROKER_DEVICES
    broker.start()
    settings = settings.model_copy(
        update={
            "mqtt_url": broker.url,
            "mqtt_protocol": protocol,
            "data_dir": demo_dir,
            "mqtt_client_id": "ioc-demo-ingest",
        }
    )
    store = open_telemetry_store(settings, catalog.inventory)
    service = IngestService(
        settings,
        catalog,
        store,
        open_dead_letters(settings),
        ack_on_receipt=isinstance(broker, EmbeddedBroker),
    )
    fleet = load_fleet(
        settings.inventory or bundled_inventory_path(),
        settings.profiles_dir or bundled_profiles_dir(),
        limit=devices,
    )
    faults = demo_faults(fleet)
    endpoint = settings.mqtt
    simulator = Simulator(
        fleet,
        SimulatorOptions(
            host=endpoint.host,
            port=endpoint.port,
            topic_prefix=settings.topic_prefix,
            speed=speed,
            # amqtt accepts connections far more slowly than Mosquitto.
            connects_per_second=2000 if protocol == "5" else 200,
        ),
        faults,
    )
    stop_sim = threading.Event()
    sim_thread = threading.Thread(
        target=simulator.run, kwargs={"should_stop": stop_sim.is_set}, name="simulator"
    )
    store_where = settings.influx_url or str(demo_dir / "telemetry.db")
    print(
        f"ioc demo: {len(fleet)} simulated devices at {speed:g}x speed\n"
        f"  broker     {broker.url} ({broker_kind})\n"
        f"  telemetry  {store_where}\n"
        f"  state      {settings.resolved_state_url}\n"
        f"  faults     "
        + (
            "\n             ".join(
                f"{f.kind} on {f.device_id} at +{f.at_s:g}s (sim time)" for f in faults
            )
            or "none"
        )
        + "\n  Ctrl-C stops.",
        file=out,
    )
    service.start()
    sim_thread.start()
    status = StatusLine(service.stats, service.live, len(fleet))
    started = time.monotonic()
    try:
        while not should_stop() and not service.stopped.is_set():
            if duration_s is not None and time.monotonic() - started >= duration_s:
                break
            time.sleep(1.0)
            line = status.render(service.consumer.connected)
            print(
                f"\r{line} | sim sent {simulator.counters.telemetry_sent:,}\x1b[K",
                end="",
                file=out,
                flush=True,
            )
    finally:
        stop_sim.set()
        sim_thread.join()
        service.stop()
        store.close()
        broker.stop()
    print(
        f"\nioc demo: stopped. {service.stats.stored:,} readings stored in {store_where}", file=out
    )
    if service.failure is not None:
        print(f"ioc demo: ingest failed: {service.failure}", file=out)
        return 1
    return 0
