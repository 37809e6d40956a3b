"""`ioc demo`: a whole province simulated on this machine with no servers to install."""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import sys
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
from ioc.app._catalog import Catalog, load_catalog
from ioc.app._demo_modbus import ModbusSite, with_serial_gateway
from ioc.app._demo_probe import (
    ProbedCommunes,
    icmp_problem,
    probed_devices,
    with_probe_device,
)
from ioc.app._run import Stages, add_api, add_ingest, add_rules, ingest_hearing
from ioc.app._runtime import Runtime
from ioc.app._status import StatusLine
from ioc.app._supervisor import Managed, Service, Supervisor, Worker, ticker
from ioc.broker import EmbeddedBroker, MosquittoProcess, mosquitto_available
from ioc.config import Settings
from ioc.domain import Alert, Caller, Inventory, Role, now_ms
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
    """Broker, store, ingest, rules, API and the simulated province, with a live status line."""
    catalog = load_catalog(settings)
    broker, protocol, broker_kind = _choose_broker(settings, embedded_broker)
    if isinstance(broker, EmbeddedBroker) and devices is None:
        # amqtt keeps up with a few hundred devices, not a province; Mosquitto takes them all.
        devices = EMBEDDED_BROKER_DEVICES
    demo = Demo(settings, catalog, broker, protocol, devices, speed, out)
    print(demo.banner(broker_kind), file=out)
    supervisor = Supervisor(demo.services)
    started = time.monotonic()

    def done() -> bool:
        return should_stop() or (
            duration_s is not None and time.monotonic() - started >= duration_s
        )

    code = supervisor.run(done)
    demo.summary()
    return code


def _choose_broker(
    settings: Settings, embedded: bool
) -> tuple[MosquittoProcess | EmbeddedBroker, str, str]:
    """Mosquitto when installed (a fresh one: the last run's retained `offline` statuses are
    not news), else the embedded amqtt broker; with its MQTT version and a description."""
    demo_dir = settings.data_dir / "demo"
    if not embedded and mosquitto_available():
        shutil.rmtree(demo_dir / "mosquitto", ignore_errors=True)
        return MosquittoProcess(demo_dir / "mosquitto"), "5", "Mosquitto"
    return (
        EmbeddedBroker(),
        "3.1.1",
        "embedded amqtt broker: in memory, acknowledged on receipt; "
        "install Mosquitto for store-then-acknowledge",
    )


class Demo:
    """The demo's services in start order (the broker first, the rules after the simulated
    devices, so they stop first: devices going away because the demo ends are not an outage)."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        broker: MosquittoProcess | EmbeddedBroker,
        protocol: str,
        devices: int | None,
        speed: float,
        out: TextIO,
    ) -> None:
        self.demo_dir = settings.data_dir / "demo"
        _fresh_state(self.demo_dir)
        self.settings = _demo_settings(settings, broker, protocol, self.demo_dir)
        self.broker = broker
        self.out = out
        self.speed = speed
        self.fleet = demo_fleet(
            load_fleet(
                settings.inventory or bundled_inventory_path(),
                settings.profiles_dir or bundled_profiles_dir(),
            ),
            devices,
        )
        self.faults = demo_faults(self.fleet)
        serial_ids = _serial_sites(self.fleet, self.faults)
        # Rules watch the simulated devices only: the rest of the province would look down.
        inventory = _sub_inventory(catalog.inventory, self.fleet)
        if serial_ids is not None:
            inventory = with_serial_gateway(inventory, serial_ids)
        probed = probed_devices(self.fleet)
        self.probe_off = icmp_problem() if probed else "no gateway in the fleet"
        if self.probe_off is None:
            inventory = with_probe_device(inventory, inventory.devices[probed[0].device_id].area_id)
        self.catalog = Catalog(catalog.profiles, inventory)
        self.modbus = (
            ModbusSite(self.settings, catalog.profiles, serial_ids, speed, self.demo_dir)
            if serial_ids is not None
            else None
        )
        self.probed = (
            ProbedCommunes(
                self.settings, catalog.profiles, inventory, probed, self.faults, speed,
                self.demo_dir,
            )
            if self.probe_off is None
            else None
        )  # fmt: skip
        self.services = self._services(isinstance(broker, EmbeddedBroker))

    def _services(self, ack_on_receipt: bool) -> list[Service]:
        settings, catalog = self.settings, self.catalog
        runtime = Runtime(settings, catalog)
        stages = Stages.over(runtime, Managed("broker", self.broker.start, self.broker.stop))
        started_ms = now_ms()

        def demo_clock() -> int:
            # The rules run on the simulation's clock: a 60 s rule fires after 60 simulated s.
            return started_ms + round((now_ms() - started_ms) * self.speed)

        rule_stages = Stages(runtime)
        self.rules = add_rules(rule_stages, demo_clock)
        self.ingest = add_ingest(stages, [self.rules.observe], ack_on_receipt)
        self.rules.hearing = ingest_hearing(self.ingest)
        stages.services.append(NotificationPrinter(settings, self.out))
        if self.modbus is not None:
            stages.services += self.modbus.services()
        if self.probed is not None:
            stages.services += self.probed.services()
        self.simulator = self._simulator(ack_on_receipt)
        simulation = Worker("simulator", lambda stop: self.simulator.run(should_stop=stop.is_set))
        stages.services += [simulation, *rule_stages.services]
        stages.rules = self.rules
        server = add_api(stages, demo_clock)
        _, token = server.context.tokens.create(Role.VIEWER, "wall (demo)", now_ms())
        password = _demo_operator(stages.runtime)
        status = StatusLine(self.ingest.stats, self.ingest.live, len(catalog.inventory.devices))
        stages.services += [
            Managed("wall banner", lambda: self._announce(server.url, token, password), None),
            ticker("status", 1.0, lambda: self._print_status(status)),
        ]
        return stages.services

    def _simulator(self, embedded_broker: bool) -> Simulator:
        elsewhere = set(self.modbus.device_ids) if self.modbus is not None else set()
        elsewhere |= set(self.probed.device_ids) if self.probed is not None else set()
        endpoint = self.settings.mqtt
        return Simulator(
            [d for d in self.fleet if d.device_id not in elsewhere],
            SimulatorOptions(
                host=endpoint.host,
                port=endpoint.port,
                topic_prefix=self.settings.topic_prefix,
                speed=self.speed,
                # amqtt accepts connections far more slowly than Mosquitto.
                connects_per_second=200 if embedded_broker else 2000,
            ),
            [f for f in self.faults if f.device_id not in elsewhere],
        )

    def banner(self, broker_kind: str) -> str:
        """What runs where, and the faults to expect."""
        settings = self.settings
        faults = "\n             ".join(
            f"{f.kind} on {f.device_id} at +{f.at_s:g}s (sim time)" for f in self.faults
        )
        modbus = f"\n  modbus     {self.modbus.describe()}" if self.modbus is not None else ""
        probe = (
            f"\n  probe      {self.probed.describe()}"
            if self.probed is not None
            else f"\n  probe      off: {self.probe_off}"
        )
        return (
            f"ioc demo: {len(self.fleet)} simulated devices at {self.speed:g}x speed\n"
            f"  broker     {self.broker.url} ({broker_kind}; anonymous, on loopback only: "
            "a deployment locks it, docs/security.md)\n"
            f"  telemetry  {self._store_where()}\n"
            f"  state      {settings.resolved_state_url}\n"
            f"  faults     {faults or 'none'}{modbus}{probe}\n"
            "  Ctrl-C stops."
        )

    def _store_where(self) -> str:
        return self.settings.influx_url or str(self.demo_dir / "telemetry.db")

    def _announce(self, url: str, token: str, password: str) -> None:
        print(
            f"  wall       {url}/wall/?token={token}\n"
            f"  sign in    {DEMO_OPERATOR} / {password} on the wall to act as an operator\n"
            f"  API        {url}/docs (the same viewer token)\n"
            f"  notify     the duty officer over MQTT ({self.settings.topic_prefix}/notify/#), "
            "shown below as they arrive; `ioc notifications --demo` lists them",
            file=self.out,
            flush=True,
        )

    def _print_status(self, status: StatusLine) -> None:
        line = status.render(self.ingest.consumer.connected)
        print(
            f"\r{line} | sim sent {self.simulator.counters.telemetry_sent:,} "
            f"| open alerts {len(self.rules.book.open_alerts):,}\x1b[K",
            end="",
            file=self.out,
            flush=True,
        )

    def summary(self) -> None:
        """What was stored and which alerts the faults raised."""
        print(
            f"\nioc demo: stopped. {self.ingest.stats.stored:,} readings stored in "
            f"{self._store_where()}",
            file=self.out,
        )
        _print_alerts(self.rules.repository.list_alerts(limit=500), self.out)


def _demo_settings(
    settings: Settings, broker: MosquittoProcess | EmbeddedBroker, protocol: str, demo_dir: Path
) -> Settings:
    """The demo's own broker, data folder and state, and a duty officer to notify."""
    settings = settings.model_copy(
        update={
            "mqtt_url": broker.url,
            "mqtt_protocol": protocol,
            "data_dir": demo_dir,
            "state_url": None,
            "mqtt_client_id": "ioc-demo-ingest",
        }
    )
    return _with_demo_notifications(settings, demo_dir)


def _serial_sites(fleet: Sequence[DeviceSpec], faults: Sequence[Fault]) -> tuple[str, str] | None:
    """Two healthy BTS sites that report through the Modbus gateway instead of MQTT firmware."""
    faulty = {fault.device_id for fault in faults}
    healthy = [d.device_id for d in fleet if d.device_class == "bts" and d.device_id not in faulty]
    return (healthy[-2], healthy[-1]) if len(healthy) >= 2 else None


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

    name = "notification printer"
    failure: BaseException | None = None

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


DEMO_OPERATOR = "demo"


def _demo_operator(runtime: Runtime) -> str:
    """The demo's operator account, with a new password each run (printed in the banner)."""
    password = secrets.token_urlsafe(12)
    accounts, caller = runtime.accounts(), Caller("ioc demo", "cli demo")
    if accounts.store.find(DEMO_OPERATOR) is None:
        accounts.add(DEMO_OPERATOR, "Trực ban (demo)", Role.OPERATOR, password, caller)
    else:
        accounts.set_password(DEMO_OPERATOR, password, caller)
    return password
