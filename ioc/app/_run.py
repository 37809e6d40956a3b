"""`ioc ingest`, `ioc rules` and `ioc run`: the configured stages, wired and supervised."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from ioc.alerts import MqttAlertPublisher
from ioc.app._api import ApiServer, api_context, stage_metrics
from ioc.app._catalog import Catalog
from ioc.app._ingest import IngestService, build_decoder, mqtt_options
from ioc.app._notify import NotifyService, build_senders, load_notifications
from ioc.app._rules import RulesService, pid_file
from ioc.app._status import StatusLine
from ioc.app._stores import open_dead_letters, open_telemetry_store
from ioc.config import Settings
from ioc.ingest import MqttConsumer

log = logging.getLogger("ioc.app")


def alert_publisher(settings: Settings) -> MqttAlertPublisher:
    """The MQTT publisher of alert transitions."""
    return MqttAlertPublisher(
        settings.broker_address(f"{settings.mqtt_client_id}-alerts"), settings.topic_prefix
    )


def run_stages(
    settings: Settings,
    catalog: Catalog,
    ingest: bool,
    rules: bool,
    should_stop: Callable[[], bool],
    status_every_s: float = 5.0,
    api: bool = False,
) -> int:
    """Run ingest, rules (and the API) until told to stop; 1 if a stage failed on its own."""
    with ExitStack() as stack:
        rules_service = None
        publisher = None
        ingest_service: IngestService | None = None
        notify_service = None
        if rules:
            publisher = alert_publisher(settings)
            rules_service = RulesService(settings, catalog, publisher)
            notifications = load_notifications(settings, catalog)
            if notifications is not None:
                senders = build_senders(settings, notifications, publisher)
                notify_service = NotifyService(settings, catalog, notifications, senders)
        consumer: MqttConsumer | None = None
        if ingest:
            store = open_telemetry_store(settings, catalog.inventory)
            stack.callback(store.close)
            observers = [rules_service.observe] if rules_service is not None else []
            ingest_service = IngestService(
                settings, catalog, store, open_dead_letters(settings), observers
            )
        elif rules_service is not None:
            consumer = _rules_consumer(settings, catalog, rules_service)
        if rules_service is not None:
            rules_service.hearing = (
                ingest_hearing(ingest_service)
                if ingest_service is not None
                else _consumer_hearing(consumer)
            )
        if publisher is not None:
            publisher.start()
            stack.callback(publisher.stop)
        if rules_service is not None:
            rules_service.start()
            stack.callback(rules_service.stop)
            stack.enter_context(_reload_on_hangup(settings, rules_service))
        if notify_service is not None:
            notify_service.start()
            stack.callback(notify_service.stop)
        if ingest_service is not None:
            ingest_service.start()
            stack.callback(ingest_service.stop)
        if consumer is not None:
            consumer.start()
            stack.callback(consumer.stop)
        if api:
            context = api_context(settings, catalog, stage_metrics(ingest_service, rules_service))
            server = ApiServer(settings, context)
            server.start()
            stack.callback(server.stop)
            log.info("API at %s/docs", server.url)
        status = (
            StatusLine(ingest_service.stats, ingest_service.live, len(catalog.inventory.devices))
            if ingest_service is not None
            else None
        )
        next_status = time.monotonic() + status_every_s
        while not should_stop():
            if ingest_service is not None and ingest_service.stopped.is_set():
                break
            if any(
                s is not None and s.failure is not None for s in (rules_service, notify_service)
            ):
                break
            time.sleep(0.2)
            if time.monotonic() >= next_status:
                log.info("%s", _status(status, ingest_service, consumer, rules_service))
                next_status = time.monotonic() + status_every_s
    failures = [
        f"{name} stopped: {service.failure}"
        for name, service in (
            ("ingest", ingest_service),
            ("rules", rules_service),
            ("notify", notify_service),
        )
        if service is not None and service.failure is not None
    ]
    for failure in failures:
        log.error("%s", failure)
    return 1 if failures else 0


def ingest_hearing(ingest: IngestService) -> Callable[[], bool]:
    """Whether devices reach ioc through this ingest now: broker up, ingest not stalled."""

    def hearing() -> bool:
        stalled = ingest.pipeline.pending >= ingest.max_in_flight or ingest.stopped.is_set()
        return ingest.consumer.connected and not stalled

    return hearing


def _consumer_hearing(consumer: MqttConsumer | None) -> Callable[[], bool]:
    assert consumer is not None
    return lambda: consumer.connected


def _rules_consumer(settings: Settings, catalog: Catalog, rules: RulesService) -> MqttConsumer:
    """`ioc rules` alone: its own subscription, decoded as ingest does, nothing stored."""
    decoder = build_decoder(settings, catalog)

    def on_message(topic: str, payload: bytes, retained: bool, _token: object) -> None:
        item = decoder.decode(topic, payload, retained, time.time_ns() // 1_000_000).item
        if item is not None:
            rules.observe(item)

    options = mqtt_options(settings, f"{settings.mqtt_client_id}-rules", ack_on_receipt=True)
    return MqttConsumer(options, on_message)


def _status(
    status: StatusLine | None,
    ingest: IngestService | None,
    consumer: MqttConsumer | None,
    rules: RulesService | None,
) -> str:
    parts = []
    if status is not None and ingest is not None:
        parts.append(status.render(ingest.consumer.connected))
    elif consumer is not None and not consumer.connected:
        parts.append("BROKER DOWN")
    if rules is not None:
        stats = rules.engine.stats
        parts.append(
            f"rules: {stats.items:,} judged, {len(rules.book.open_alerts):,} open alerts, "
            f"backlog {rules.backlog:,}"
        )
    return " | ".join(parts)


class _reload_on_hangup:
    """SIGHUP reloads the rules; the pid file lets `ioc rules reload` find this process."""

    def __init__(self, settings: Settings, rules: RulesService) -> None:
        self._path = pid_file(settings)
        self._rules = rules
        self._previous: Any = None

    def __enter__(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_text(f"{os.getpid()}\n", encoding="ascii")
        # Signals reach the main thread only; embedded in another thread, reload by call.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGHUP, self._on_hangup)

    def __exit__(self, *_exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGHUP, self._previous)
        self._path.unlink(missing_ok=True)

    def _on_hangup(self, _signum: int, _frame: Any) -> None:
        log.info("SIGHUP: reloading the rules")
        self._rules.reload()
