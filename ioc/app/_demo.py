"""`ioc demo`: a whole province simulated on this machine with no servers to install."""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import orjson
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from firmware_sim import DeviceSpec, Fault, FaultKind, Simulator, SimulatorOptions, load_fleet
from ioc.app._api import ApiServer, api_context, stage_metrics
from ioc.app._catalog import Catalog, load_catalog
from ioc.app._demo_modbus import ModbusSite, with_serial_gateway
from ioc.app._ingest import IngestService
from ioc.app._notify import NotifyService, build_senders, load_notifications
from ioc.app._rules import RulesService, wall_clock_ms
from ioc.app._run import alert_publisher, ingest_hearing
from ioc.app._status import StatusLine
from ioc.app._stores import open_dead_letters, open_telemetry_store
from ioc.broker import EmbeddedBroker, MosquittoProcess, mosquitto_available
from ioc.config import Settings
from ioc.domain import Alert, Inventory, Role
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
        # A fresh broker too: the last run's retained `offline` statuses are not news.
        shutil.rmtree(demo_dir / "mosquitto", ignore_errors=True)
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
    try:
        return _run_on_broker(
            settings, catalog, broker, protocol, broker_kind, devices, speed, duration_s,
            should_stop, out,
        )  # fmt: skip
    finally:
        broker.stop()  # also when starting the rest failed: never an orphaned broker


def _run_on_broker(
    settings: Settings,
    catalog: Catalog,
    broker: MosquittoProcess | EmbeddedBroker,
    protocol: str,
    broker_kind: str,
    devices: int | None,
    speed: float,
    duration_s: float | None,
    should_stop: Callable[[], bool],
    out: TextIO,
) -> int:
    """The demo once its broker runs."""
    demo_dir = settings.data_dir / "demo"
    settings = settings.model_copy(
        update={
            "mqtt_url": broker.url,
            "mqtt_protocol": protocol,
            "data_dir": demo_dir,
            "state_url": None,
            "mqtt_client_id": "ioc-demo-ingest",
        }
    )
    fleet = demo_fleet(
        load_fleet(
            settings.inventory or bundled_inventory_path(),
            settings.profiles_dir or bundled_profiles_dir(),
        ),
        devices,
    )
    faults = demo_faults(fleet)
    # Two sites report through the Modbus gateway instead of MQTT firmware of their own.
    bts_ids = [d.device_id for d in fleet if d.device_class == "bts"]
    faulty = {fault.device_id for fault in faults}
    serial_ids = tuple(device_id for device_id in bts_ids if device_id not in faulty)[-2:]
    with_modbus = len(serial_ids) == 2
    # Rules watch the simulated devices only: the rest of the province would look down.
    inventory = _sub_inventory(catalog.inventory, fleet)
    if with_modbus:
        inventory = with_serial_gateway(inventory, serial_ids)
    catalog = Catalog(catalog.profiles, inventory)
    _fresh_state(demo_dir)
    publisher = alert_publisher(settings)
    started_ms = wall_clock_ms()

    def demo_clock() -> int:
        # The rules run on the simulation's clock, so a 60 s rule fires after 60 simulated s.
        return started_ms + round((wall_clock_ms() - started_ms) * speed)

    settings = _with_demo_notifications(settings, demo_dir)
    rules = RulesService(settings, catalog, publisher, clock=demo_clock)
    notifications = load_notifications(settings, catalog)
    assert notifications is not None
    notifier = NotifyService(
        settings, catalog, notifications, build_senders(settings, notifications, publisher),
        clock=demo_clock,
    )  # fmt: skip
    printer = NotificationPrinter(settings, out)
    store = open_telemetry_store(settings, catalog.inventory)
    service = IngestService(
        settings,
        catalog,
        store,
        open_dead_letters(settings),
        observers=[rules.observe],
        ack_on_receipt=isinstance(broker, EmbeddedBroker),
    )
    rules.hearing = ingest_hearing(service)
    modbus_site = (
        ModbusSite(settings, catalog.profiles, (serial_ids[0], serial_ids[1]), speed, demo_dir)
        if with_modbus
        else None
    )
    mqtt_fleet = [d for d in fleet if modbus_site is None or d.device_id not in serial_ids]
    endpoint = settings.mqtt
    simulator = Simulator(
        mqtt_fleet,
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
        + (f"\n  modbus     {modbus_site.describe()}" if modbus_site is not None else "")
        + "\n  Ctrl-C stops.",
        file=out,
    )
    publisher.start()
    printer.start()
    rules.start()
    notifier.start()
    service.start()
    context = api_context(settings, catalog, stage_metrics(service, rules))
    _, wall_token = context.tokens.create(Role.VIEWER, "wall (demo)", wall_clock_ms())
    server = ApiServer(settings, context)
    try:
        server.start()
    except OSError:
        rules.stop()
        notifier.stop()
        printer.stop()
        service.stop()
        publisher.stop()
        raise
    print(
        f"  wall       {server.url}/wall/?token={wall_token}\n"
        f"  API        {server.url}/docs (the same viewer token)\n"
        f"  notify     the duty officer over MQTT ({settings.topic_prefix}/notify/#), shown "
        "below as they arrive; `ioc notifications --demo` lists them",
        file=out,
        flush=True,
    )
    sim_thread.start()
    if modbus_site is not None:
        modbus_site.start()
    status = StatusLine(service.stats, service.live, len(catalog.inventory.devices))
    started = time.monotonic()
    try:
        while not should_stop() and not service.stopped.is_set():
            if duration_s is not None and time.monotonic() - started >= duration_s:
                break
            time.sleep(1.0)
            line = status.render(service.consumer.connected)
            open_alerts = len(rules.book.open_alerts)
            print(
                f"\r{line} | sim sent {simulator.counters.telemetry_sent:,} "
                f"| open alerts {open_alerts:,}\x1b[K",
                end="",
                file=out,
                flush=True,
            )
    finally:
        # Rules first: devices going away because the demo ends are not an outage.
        server.stop()
        rules.stop()
        notifier.stop()
        stop_sim.set()
        sim_thread.join()
        if modbus_site is not None:
            modbus_site.stop()
        service.stop()
        printer.stop()
        publisher.stop()
        store.close()
    print(
        f"\nioc demo: stopped. {service.stats.stored:,} readings stored in {store_where}", file=out
    )
    _print_alerts(rules.repository.list_alerts(limit=500), out)
    rules.repository.close()
    failed = False
    failures = (("ingest", service.failure), ("rules", rules.failure), ("notify", notifier.failure))
    for name, failure in failures:
        if failure is not None:
            print(f"ioc demo: {name} failed: {failure}", file=out)
            failed = True
    return 1 if failed else 0


def _with_demo_notifications(settings: Settings, demo_dir: Path) -> Settings:
    """Settings with a notification file that tells one duty officer of every major incident
    over MQTT, with acknowledgement links to this demo's API."""
    demo_dir.mkdir(parents=True, exist_ok=True)
    path = demo_dir / "notify.yaml"
    document = {
        "version": 1,
        "link_base": f"http://{settings.api_host}:{settings.api_port}",
        "people": [
            {"id": "truc-ban", "name": "Trực ban IOC", "contacts": {"mqtt": True}},
        ],
        "teams": [{"id": "ioc", "members": ["truc-ban"], "channels": ["mqtt"]}],
        "routes": [{"id": "all", "match": {"min_severity": "major"}, "notify": "ioc"}],
        "limits": {"per_hour": 30, "group_wait": "30s"},
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    update = {"notify_config": path, "notify_link_secret": SecretStr(secrets.token_urlsafe(32))}
    return settings.model_copy(update=update)


class NotificationPrinter:
    """Prints each notification as it arrives on the broker, as an engineer's phone gets it."""

    def __init__(self, settings: Settings, out: TextIO) -> None:
        endpoint = settings.mqtt
        self._out = out
        self._topic = f"{settings.topic_prefix}/notify/#"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ioc-demo-phone")
        self._client.on_connect = lambda client, *_: client.subscribe(self._topic, qos=1)
        self._client.on_message = self._show
        self._endpoint = endpoint

    def start(self) -> None:
        """Subscribe in the background."""
        self._client.connect_async(self._endpoint.host, self._endpoint.port)
        self._client.loop_start()

    def stop(self) -> None:
        """Unsubscribe."""
        self._client.disconnect()
        self._client.loop_stop()

    def _show(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            subject = str(orjson.loads(message.payload).get("subject", ""))
        except orjson.JSONDecodeError:
            return
        print(f"\r  notify -> {message.topic.rsplit('/', 1)[-1]}: {subject}\x1b[K", file=self._out)


def demo_fleet(fleet: Sequence[DeviceSpec], limit: int | None) -> list[DeviceSpec]:
    """About `limit` devices in the province's class proportions, every class shown, and the
    dependants of the chosen gateways preferred, so a link failure shows its root cause."""
    if limit is None or limit >= len(fleet):
        return list(fleet)
    by_class: dict[str, list[DeviceSpec]] = {}
    for device in fleet:
        by_class.setdefault(device.device_class, []).append(device)
    # Upstream classes first, so their dependants can be chosen with them.
    class_of = {device.device_id: device.device_class for device in fleet}
    upstream_classes = {class_of[up] for device in fleet for up in device.depends_on}
    order = sorted(by_class, key=lambda device_class: device_class not in upstream_classes)
    chosen: list[DeviceSpec] = []
    chosen_ids: set[str] = set()
    for device_class in order:
        devices = by_class[device_class]
        share = max(4, round(len(devices) * limit / len(fleet)))
        devices = sorted(devices, key=lambda d: not chosen_ids.intersection(d.depends_on))
        chosen += devices[:share]
        chosen_ids.update(d.device_id for d in devices[:share])
    return chosen


def _sub_inventory(inventory: Inventory, fleet: Sequence[DeviceSpec]) -> Inventory:
    wanted = {device.device_id for device in fleet}
    devices = [
        dataclasses.replace(device, depends_on=tuple(d for d in device.depends_on if d in wanted))
        for device in inventory.devices.values()
        if device.id in wanted
    ]
    return Inventory.build(inventory.areas.values(), devices)


def _fresh_state(demo_dir: Path) -> None:
    """Each demo starts with no alerts: the last run's would never clear for this fleet."""
    for suffix in ("", "-wal", "-shm"):
        (demo_dir / f"state.db{suffix}").unlink(missing_ok=True)


def _print_alerts(alerts: Sequence[Alert], out: TextIO) -> None:
    if not alerts:
        print("ioc demo: no alerts were raised", file=out)
        return
    print(f"ioc demo: {len(alerts)} alerts (list them with `ioc alerts --demo`):", file=out)
    for alert in alerts[:30]:
        root = f" (caused by #{alert.root_id})" if alert.root_id else ""
        print(
            f"  #{alert.id:<4} {alert.state.value:9} {alert.severity.value:8} "
            f"{alert.rule_id:22} {alert.device_id:18} {alert.message_en}{root}",
            file=out,
        )
