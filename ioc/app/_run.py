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
from typing import TYPE_CHECKING, Any

from ioc.app._catalog import Catalog
from ioc.app._cluster import ClusterNode, EmbeddedStateLock, ingest_client_id
from ioc.app._ingest import IngestService, build_decoder, mqtt_options
from ioc.app._status import StatusLine
from ioc.app._stores import open_dead_letters, open_telemetry_store
from ioc.app._supervisor import Managed, Service, Supervisor, ticker
from ioc.config import Settings
from ioc.domain import Clock, now_ms
from ioc.ingest import Message, MqttConsumer, Observer
from ioc.state import DeadLetterLog, connect_state
from ioc.store import TelemetryStore

# The rules, the notifier and the API are imported where a process adds them: `ioc ingest`
# starts without them (over a second of start-up, which a restart after an outage would add
# to the time the wall waits for the backlog).
if TYPE_CHECKING:
    from ioc.app._api import ApiServer
    from ioc.app._leadership import Leadership
    from ioc.app._rules import RulesService

log = logging.getLogger("ioc.app")

DEFAULT_GROUP = "ioc-ingest"  # the shared subscription of a cluster's ingest


@dataclass
class Stages:
    """The services of one process in start order, and the stages others read figures from."""

    services: list[Service] = field(default_factory=list)
    ingest: IngestService | None = None
    rules: RulesService | None = None
    consumer: MqttConsumer | None = None  # `ioc rules` alone: its own subscription
    cluster: ClusterNode | None = None  # `ioc run` on PostgreSQL: the rules only while leading

    def supervisor(self) -> Supervisor:
        """A supervisor for these services."""
        return Supervisor(self.services)

    def current_rules(self) -> RulesService | None:
        """The rules running in this process now (on a cluster, only while it leads)."""
        if self.cluster is None:
            return self.rules
        from ioc.app._rules import RulesService

        running = (s for s in self.cluster.leader_services if isinstance(s, RulesService))
        return next(running, None)


def add_ingest(
    stages: Stages,
    settings: Settings,
    catalog: Catalog,
    observers: list[Observer],
    ack_on_receipt: bool = False,
    clock: Clock = now_ms,
) -> IngestService:
    """The telemetry store, the dead letters and the ingest service (the stores close after
    ingest stops)."""
    store = open_telemetry_store(settings, catalog.inventory)
    dead_letters = open_dead_letters(settings)
    ingest = IngestService(
        settings, catalog, store, dead_letters, observers, ack_on_receipt, clock=clock
    )
    stages.services += [_stores_closing(store, dead_letters), ingest]
    stages.ingest = ingest
    return ingest


def _stores_closing(store: TelemetryStore, dead_letters: DeadLetterLog) -> Managed:
    """Closes ingest's stores when stopped (placed before ingest, it stops after it)."""

    def close() -> None:
        store.close()
        dead_letters.close()

    return Managed("stores", None, close)


def add_rules(
    stages: Stages, settings: Settings, catalog: Catalog, clock: Clock = now_ms
) -> RulesService:
    """The alert publisher, the rules, and the notifier when a notification file is set."""
    from ioc.alerts import MqttAlertPublisher
    from ioc.app._notify import NotifyService, build_senders, load_notifications
    from ioc.app._rules import RulesService

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


def add_api(
    stages: Stages, settings: Settings, catalog: Catalog, clock: Clock = now_ms
) -> ApiServer:
    """The API and the wall, with /metrics of the stages in this process; `clock` as the
    rules' (a demo runs both on its simulated clock)."""
    from ioc.app._api import ApiServer, api_context, stage_metrics

    def refusal() -> str | None:
        rules = stages.current_rules()
        return rules.stats.last_refusal if rules is not None else None

    has_rules = stages.rules is not None or stages.cluster is not None
    attention = {"rules": refusal} if has_rules else {}
    metrics = stage_metrics(stages.ingest, stages.current_rules, stages.cluster)
    context = api_context(settings, catalog, metrics, attention, clock)
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
    stages.services.append(ReloadOnHangup(settings, rules.reload))
    consumer = _rules_consumer(settings, catalog, rules)
    rules.hearing = lambda: consumer.connected
    stages.consumer = consumer
    stages.services.append(Managed("subscription", consumer.start, consumer.stop))
    add_status(stages, status_every_s, len(catalog.inventory.devices))
    return stages.supervisor()


def run_process(settings: Settings, catalog: Catalog, status_every_s: float) -> Supervisor:
    """`ioc run`: ingest feeding the rules, the notifier and the API in one process; on a
    PostgreSQL state, one node of a cluster (`cluster_process`)."""
    if settings.clustered:
        return cluster_process(settings, catalog, status_every_s)
    stages = Stages()
    stages.services.append(EmbeddedStateLock(settings.resolved_state_url))
    rules = add_rules(stages, settings, catalog)
    stages.services.append(ReloadOnHangup(settings, rules.reload))
    ingest = add_ingest(stages, settings, catalog, observers=[rules.observe])
    rules.hearing = ingest_hearing(ingest)
    _add_api_and_status(stages, settings, catalog, status_every_s)
    return stages.supervisor()


def cluster_process(settings: Settings, catalog: Catalog, status_every_s: float) -> Supervisor:
    """`ioc run` as a node of a cluster: ingest in the shared group and the API on every
    node; the rules (following all telemetry on their own session) and the notifier on the
    leader only (`ClusterNode`)."""
    from ioc.alerts import MqttAlertPublisher
    from ioc.app._notify import NotifyService, build_senders, load_notifications
    from ioc.app._rules import RulesService
    from ioc.app._ruleset import load_rule_set

    load_rule_set(settings, catalog)  # a bad rule file stops the start, not a later takeover
    notifications = load_notifications(settings, catalog)
    node = settings.node_name
    group = settings.mqtt_shared_group or DEFAULT_GROUP
    stages = Stages()
    store = open_telemetry_store(settings, catalog.inventory)
    dead_letters = open_dead_letters(settings)

    def ingest_of(name: str, adopt: bool = False) -> IngestService:
        client_id = ingest_client_id(settings.mqtt_client_id, name)
        options = mqtt_options(settings, client_id, False, group, adopt)
        return IngestService(settings, catalog, store, dead_letters, options=options)

    ingest = ingest_of(node)
    stages.services += [_stores_closing(store, dead_letters), ingest]
    stages.ingest = ingest
    publisher = MqttAlertPublisher(
        settings.broker_address(f"{settings.mqtt_client_id}-alerts-{node}"),
        settings.topic_prefix,
    )
    stages.services.append(Managed("alert publisher", publisher.start, publisher.stop))
    senders = build_senders(settings, notifications, publisher) if notifications else {}

    def leader_services(leadership: Leadership) -> list[Service]:
        rules = RulesService(settings, catalog, publisher, leader_guard=leadership.guard)
        consumer = _leader_consumer(settings, catalog, rules, leadership)
        rules.hearing = lambda: consumer.connected
        services: list[Service] = [
            rules,
            Managed("rules subscription", consumer.start, consumer.stop),
        ]
        if notifications is not None:
            services.append(
                NotifyService(
                    settings, catalog, notifications, senders, leader_guard=leadership.guard
                )
            )
        return services

    engine = connect_state(settings.resolved_state_url)
    cluster = ClusterNode(
        engine, node, int(settings.lease_s * 1000), ingest, leader_services,
        lambda name: ingest_of(name, adopt=True),
    )  # fmt: skip
    stages.services.append(cluster)
    stages.cluster = cluster

    def reload() -> None:
        rules = stages.current_rules()
        if rules is not None:  # a standby reads the files afresh when it comes to lead
            rules.reload()

    stages.services.append(ReloadOnHangup(settings, reload))
    _add_api_and_status(stages, settings, catalog, status_every_s)
    return stages.supervisor()


def _add_api_and_status(
    stages: Stages, settings: Settings, catalog: Catalog, status_every_s: float
) -> None:
    server = add_api(stages, settings, catalog)
    stages.services.append(
        Managed("api banner", lambda: log.info("API at %s/docs", server.url), None)
    )
    add_status(stages, status_every_s, len(catalog.inventory.devices))


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

    def on_messages(messages: list[Message]) -> None:
        now = now_ms()
        for topic, payload, retained, _token in messages:
            item = decoder.decode(topic, payload, retained, now).item
            if item is not None:
                rules.observe(item)

    # Never in the ingest group: the rules follow all telemetry.
    options = mqtt_options(settings, f"{settings.mqtt_client_id}-rules", True, shared_group=None)
    return MqttConsumer(options, on_messages)


def _leader_consumer(
    settings: Settings, catalog: Catalog, rules: RulesService, leadership: Leadership
) -> MqttConsumer:
    """The leader's rules on the one session every leader uses in turn: a message is
    acknowledged once the rules have it, and never by a node that no longer leads (the
    session keeps it for the next leader); such a node does not connect again either."""
    decoder = build_decoder(settings, catalog)

    def on_messages(messages: list[Message]) -> None:
        if not leadership.acting():
            return
        now = now_ms()
        for topic, payload, retained, _token in messages:
            item = decoder.decode(topic, payload, retained, now).item
            if item is not None:
                rules.observe(item)
        consumer.acknowledge([token for _topic, _payload, _retained, token in messages])

    options = mqtt_options(settings, f"{settings.mqtt_client_id}-rules", False, shared_group=None)
    consumer = MqttConsumer(options, on_messages, admit=leadership.acting)
    return consumer


def _status(stages: Stages, status: StatusLine | None) -> str:
    parts = []
    if stages.cluster is not None:
        cluster = stages.cluster
        term = cluster.leadership.term
        role = f"leads (term {term})" if term is not None else "standby"
        parts.append(f"node {cluster.node} {role}")
    if status is not None and stages.ingest is not None:
        parts.append(status.render(stages.ingest.consumer.connected))
    elif stages.consumer is not None and not stages.consumer.connected:
        parts.append("BROKER DOWN")
    rules = stages.current_rules()
    if rules is not None:
        parts.append(
            f"rules: {rules.engine.stats.items:,} judged, {len(rules.book.open_alerts):,} open "
            f"alerts, backlog {rules.backlog:,}"
        )
    return " | ".join(parts)


class ReloadOnHangup:
    """SIGHUP reloads the rules; the pid file lets `ioc rules reload` find this process."""

    name = "reload on SIGHUP"
    failure: BaseException | None = None

    def __init__(self, settings: Settings, reload: Callable[[], None]) -> None:
        from ioc.app._ruleset import pid_file

        self._path = pid_file(settings)
        self._reload = reload
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
        self._reload()
