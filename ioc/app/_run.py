"""The stages as services, and the processes the commands run: each a list for the supervisor.

`ioc ingest`, `ioc rules`, `ioc run` and `ioc api` differ only in which services their list
holds; `ioc demo` (`_demo.py`) and `ioc gateway modbus` (`_gateway.py`) build theirs from the
same pieces. Where a service goes in a list is its start position; the stop order is the
reverse, so ingest stops (flushing what it holds to the rules) before the rules stop.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ioc.alerts import MqttAlertPublisher
from ioc.app._api import ApiServer, api_context, stage_metrics
from ioc.app._catalog import Catalog
from ioc.app._ingest import IngestService, build_decoder, mqtt_options
from ioc.app._notify import NotifyService, build_senders, load_notifications
from ioc.app._rules import RulesService
from ioc.app._ruleset import pid_file
from ioc.app._status import StatusLine
from ioc.app._stores import open_dead_letters, open_telemetry_store
from ioc.app._supervisor import Managed, Service, Supervisor, ticker
from ioc.config import Settings
from ioc.domain import Clock, now_ms
from ioc.ingest import MqttConsumer, Observer

log = logging.getLogger("ioc.app")


@dataclass
class Stages:
    """The services of one process in start order, and the stages others read figures from."""

    services: list[Service] = field(default_factory=list)
    ingest: IngestService | None = None
    rules: RulesService | None = None
    consumer: MqttConsumer | None = None  # `ioc rules` alone: its own subscription

    def supervisor(self) -> Supervisor:
        """A supervisor for these services."""
        return Supervisor(self.services)


def add_ingest(
    stages: Stages,
    settings: Settings,
    catalog: Catalog,
    observers: list[Observer],
    ack_on_receipt: bool = False,
) -> IngestService:
    """The telemetry store and the ingest service (the store closes after ingest stops)."""
    store = open_telemetry_store(settings, catalog.inventory)
    ingest = IngestService(
        settings, catalog, store, open_dead_letters(settings), observers, ack_on_receipt
    )
    stages.services += [Managed("telemetry store", None, store.close), ingest]
    stages.ingest = ingest
    return ingest


def add_rules(
    stages: Stages, settings: Settings, catalog: Catalog, clock: Clock = now_ms
) -> RulesService:
    """The alert publisher, the rules, and the notifier when a notification file is set."""
    publisher = MqttAlertPublisher(
        settings.broker_address(f"{settings.mqtt_client_id}-alerts"), settings.topic_prefix
    )
    rules = RulesService(settings, catalog, publisher, clock)
    stages.services += [Managed("alert publisher", publisher.start, publisher.stop), rules]
    notifications = load_notifications(settings, catalog)
    if notifications is not None:
        senders = build_senders(settings, notifications, publisher)
        stages.services.append(NotifyService(settings, catalog, notifications, senders, clock))
    stages.rules = rules
    return rules


def add_api(stages: Stages, settings: Settings, catalog: Catalog) -> ApiServer:
    """The API and the wall, with /metrics of the stages in this process."""
    rules = stages.rules
    attention = {"rules": lambda: rules.stats.last_refusal} if rules is not None else {}
    context = api_context(settings, catalog, stage_metrics(stages.ingest, stages.rules), attention)
    server = ApiServer(settings, context)
    stages.services.append(server)
    return server


def add_status(stages: Stages, every_s: float, inventory_size: int) -> None:
    """A status line in the log every `every_s` seconds."""
    status = (
        StatusLine(stages.ingest.stats, stages.ingest.live, inventory_size)
        if stages.ingest is not None
        else None
    )
    stages.services.append(
        ticker("status", every_s, lambda: log.info("%s", _status(stages, status)))
    )


def ingest_process(settings: Settings, catalog: Catalog, status_every_s: float) -> Supervisor:
    """`ioc ingest`: store telemetry."""
    stages = Stages()
    add_ingest(stages, settings, catalog, observers=[])
    add_status(stages, status_every_s, len(catalog.inventory.devices))
    return stages.supervisor()


def rules_process(settings: Settings, catalog: Catalog, status_every_s: float) -> Supervisor:
    """`ioc rules`: the rules (and notifier) on a subscription of their own, nothing stored."""
    stages = Stages()
    rules = add_rules(stages, settings, catalog)
    stages.services.append(ReloadOnHangup(settings, rules))
    consumer = _rules_consumer(settings, catalog, rules)
    rules.hearing = lambda: consumer.connected
    stages.consumer = consumer
    stages.services.append(Managed("subscription", consumer.start, consumer.stop))
    add_status(stages, status_every_s, len(catalog.inventory.devices))
    return stages.supervisor()


def run_process(settings: Settings, catalog: Catalog, status_every_s: float) -> Supervisor:
    """`ioc run`: ingest feeding the rules, the notifier and the API in one process."""
    stages = Stages()
    rules = add_rules(stages, settings, catalog)
    stages.services.append(ReloadOnHangup(settings, rules))
    ingest = add_ingest(stages, settings, catalog, observers=[rules.observe])
    rules.hearing = ingest_hearing(ingest)
    server = add_api(stages, settings, catalog)
    stages.services.append(
        Managed("api banner", lambda: log.info("API at %s/docs", server.url), None)
    )
    add_status(stages, status_every_s, len(catalog.inventory.devices))
    return stages.supervisor()


def api_process(
    settings: Settings, catalog: Catalog, announce: Callable[[str], None]
) -> Supervisor:
    """`ioc api`: the API and the wall alone; `announce` gets the URL once it listens."""
    stages = Stages()
    server = add_api(stages, settings, catalog)
    stages.services.append(Managed("api banner", lambda: announce(server.url), None))
    return stages.supervisor()


def ingest_hearing(ingest: IngestService) -> Callable[[], bool]:
    """Whether devices reach ioc through this ingest now: broker up, ingest not stalled."""

    def hearing() -> bool:
        stalled = ingest.pipeline.pending >= ingest.max_in_flight or ingest.stopped.is_set()
        return ingest.consumer.connected and not stalled

    return hearing


def _rules_consumer(settings: Settings, catalog: Catalog, rules: RulesService) -> MqttConsumer:
    """`ioc rules` alone: its own subscription, decoded as ingest does, nothing stored."""
    decoder = build_decoder(settings, catalog)

    def on_message(topic: str, payload: bytes, retained: bool, _token: object) -> None:
        item = decoder.decode(topic, payload, retained, now_ms()).item
        if item is not None:
            rules.observe(item)

    options = mqtt_options(settings, f"{settings.mqtt_client_id}-rules", ack_on_receipt=True)
    return MqttConsumer(options, on_message)


def _status(stages: Stages, status: StatusLine | None) -> str:
    parts = []
    if status is not None and stages.ingest is not None:
        parts.append(status.render(stages.ingest.consumer.connected))
    elif stages.consumer is not None and not stages.consumer.connected:
        parts.append("BROKER DOWN")
    if stages.rules is not None:
        rules = stages.rules
        parts.append(
            f"rules: {rules.engine.stats.items:,} judged, {len(rules.book.open_alerts):,} open "
            f"alerts, backlog {rules.backlog:,}"
        )
    return " | ".join(parts)


class ReloadOnHangup:
    """SIGHUP reloads the rules; the pid file lets `ioc rules reload` find this process."""

    name = "reload on SIGHUP"
    failure: BaseException | None = None

    def __init__(self, settings: Settings, rules: RulesService) -> None:
        self._path = pid_file(settings)
        self._rules = rules
        self._previous: Any = None

    def start(self) -> None:
        """Write the pid file and take SIGHUP."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_text(f"{os.getpid()}\n", encoding="ascii")
        # Signals reach the main thread only; embedded in another thread, reload by call.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGHUP, self._on_hangup)

    def stop(self) -> None:
        """Give SIGHUP back and remove the pid file."""
        if self._previous is not None:
            signal.signal(signal.SIGHUP, self._previous)
            self._previous = None
        self._path.unlink(missing_ok=True)

    def _on_hangup(self, _signum: int, _frame: Any) -> None:
        log.info("SIGHUP: reloading the rules")
        self._rules.reload()
