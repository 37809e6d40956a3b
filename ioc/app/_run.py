"""The stages as services, and the processes the commands run: each a list for the supervisor.

`ioc ingest`, `ioc rules`, `ioc run` and `ioc api` differ only in which services their list
holds; `ioc demo` (`_demo.py`) and `ioc gateway modbus` (`_gateway.py`) build theirs from the
same pieces. Where a service goes in a list is its start position; the stop order is the
reverse, so ingest stops (flushing what it holds to the rules) before the rules stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ioc.app._catalog import Catalog
from ioc.app._cluster import ClusterNode, EmbeddedStateLock, ingest_client_id
from ioc.app._ingest import IngestService, build_decoder, ingest_options, mqtt_options
from ioc.app._keeper import GapKeeper, JointAcks
from ioc.app._runtime import Runtime
from ioc.app._status import StatusLine
from ioc.app._supervisor import Managed, Service, Supervisor, ticker
from ioc.config import Settings
from ioc.domain import Clock, now_ms
from ioc.ingest import Decoder, Message, MqttConsumer, MqttOptions, Observer
from ioc.state import Guard

# The rules, the notifier and the API are imported where a process adds them: `ioc ingest`
# starts without them (over a second of start-up, which a restart after an outage would add
# to the time the wall waits for the backlog).
if TYPE_CHECKING:
    from ioc.alerts import MqttAlertPublisher
    from ioc.app._api import ApiServer
    from ioc.app._leadership import Leadership
    from ioc.app._rules import RulesService
    from ioc.notify import NotifyConfig, Sender

log = logging.getLogger("ioc.app")

DEFAULT_GROUP = "ioc-ingest"  # the shared subscription of a cluster's ingest


@dataclass
class Stages:
    """The services of one process in start order over its runtime, and the stages others
    read figures from."""

    runtime: Runtime
    services: list[Service] = field(default_factory=list)
    ingest: IngestService | None = None
    rules: RulesService | None = None
    consumer: MqttConsumer | None = None  # `ioc rules` alone: its own subscription
    cluster: ClusterNode | None = None  # `ioc run` on PostgreSQL: the rules only while leading

    @classmethod
    def over(cls, runtime: Runtime, *first: Service) -> Stages:
        """Stages over `runtime`, closed once every service has stopped (it is first in the
        list); `first` start before what is added. The live inventory's newest version is in
        force before any service is made (the file the process started with recorded first
        when it is new)."""
        runtime.live_inventory.start()
        return cls(runtime, [Managed("runtime", None, runtime.close), *first])

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
    observers: list[Observer],
    ack_on_receipt: bool = False,
    clock: Clock = now_ms,
) -> IngestService:
    """The ingest service on IOC_MQTT_CLIENT_ID's session, storing into the runtime's
    telemetry store (its 1.x database created now when missing)."""
    ingest = _ingest_service(stages.runtime, observers, ack_on_receipt, clock)
    stages.services.append(ingest)
    stages.ingest = ingest
    return ingest


def _ingest_service(
    runtime: Runtime,
    observers: list[Observer],
    ack_on_receipt: bool = False,
    clock: Clock = now_ms,
    options: MqttOptions | None = None,
) -> IngestService:
    settings = runtime.settings
    return IngestService(
        following_decoder(runtime), runtime.writable_telemetry(),
        runtime.dead_letters(), ingest_options(settings, options, ack_on_receipt), observers,
        clock,
    )  # fmt: skip


def add_rules(stages: Stages, clock: Clock = now_ms) -> RulesService:
    """The alert publisher, the rules, and the notifier when a notification file is set."""
    runtime = stages.runtime
    publisher = _alert_publisher(runtime.settings, "alerts")
    rules, services = _rules_and_notifier(runtime, publisher, clock)
    stages.services += [Managed("alert publisher", publisher.start, publisher.stop), *services]
    stages.rules = rules
    return rules


def _alert_publisher(settings: Settings, name: str) -> MqttAlertPublisher:
    from ioc.alerts import MqttAlertPublisher

    client_id = f"{settings.mqtt_client_id}-{name}"
    return MqttAlertPublisher(settings.broker_address(client_id), settings.topic_prefix)


def _rules_and_notifier(
    runtime: Runtime,
    publisher: MqttAlertPublisher,
    clock: Clock = now_ms,
    leader_guard: Guard | None = None,
) -> tuple[RulesService, list[Service]]:
    """The rules, and the notifier after them when a notification file is set."""
    from ioc.app._notify import NotifyService, build_senders
    from ioc.app._rules import RulesService

    rules = RulesService(runtime, publisher, clock, leader_guard)
    services: list[Service] = [rules]
    if runtime.notifications.get() is not None:

        def senders_for(config: NotifyConfig) -> dict[str, Sender]:
            return build_senders(runtime.settings, config, publisher)

        services.append(NotifyService(runtime, senders_for, clock, leader_guard))
    return rules, services


def add_api(stages: Stages, clock: Clock = now_ms) -> ApiServer:
    """The API and the wall, with /metrics of the stages in this process; `clock` as the
    rules' (a demo runs both on its simulated clock)."""
    from ioc.app._api import ApiOptions, ApiServer, api_context, stage_metrics

    def refusal() -> str | None:
        rules = stages.current_rules()
        return rules.stats.last_refusal if rules is not None else None

    has_rules = stages.rules is not None or stages.cluster is not None
    attention = {"rules": refusal} if has_rules else {}
    metrics = stage_metrics(stages.ingest, stages.current_rules, stages.cluster)
    context = api_context(stages.runtime, metrics, attention, clock)
    server = ApiServer(context, ApiOptions.of(stages.runtime.settings))
    stages.services.append(server)
    return server


def add_reload_follower(stages: Stages, pid_file: bool = True) -> None:
    """Reload requests followed, SIGHUP taken (and the pid file written, for the process
    `ioc rules reload` signals)."""
    from ioc.app._reloading import ReloadFollower

    stages.services.append(ReloadFollower(stages.runtime, pid_file=pid_file))


def add_status(stages: Stages, every_s: float) -> None:
    """A status line in the log every `every_s` seconds."""
    status = (
        StatusLine(
            stages.ingest.stats, stages.ingest.live, len(stages.runtime.catalog.inventory.devices)
        )
        if stages.ingest is not None
        else None
    )
    stages.services.append(
        ticker("status", every_s, lambda: log.info("%s", _status(stages, status)))
    )


def ingest_process(settings: Settings, catalog: Catalog, status_every_s: float) -> Supervisor:
    """`ioc ingest`: store telemetry."""
    stages = Stages.over(Runtime(settings, catalog))
    add_ingest(stages, observers=[])
    add_reload_follower(stages, pid_file=False)  # the inventory's versions
    add_status(stages, status_every_s)
    return stages.supervisor()


def rules_process(settings: Settings, catalog: Catalog, status_every_s: float) -> Supervisor:
    """`ioc rules`: the rules (and notifier) on a subscription of their own, nothing stored."""
    stages = Stages.over(Runtime(settings, catalog))
    rules = add_rules(stages)
    add_reload_follower(stages)
    # Never in the ingest group: the rules follow all telemetry.
    consumer = _judging_consumer(stages.runtime, rules, ack_on_receipt=True)
    rules.hearing = lambda: consumer.connected
    stages.consumer = consumer
    stages.services.append(Managed("subscription", consumer.start, consumer.stop))
    add_status(stages, status_every_s)
    return stages.supervisor()


def run_process(settings: Settings, catalog: Catalog, status_every_s: float) -> Supervisor:
    """`ioc run`: ingest feeding the rules, the notifier and the API in one process; on a
    PostgreSQL state, one node of a cluster (`cluster_process`)."""
    if settings.clustered:
        return cluster_process(settings, catalog, status_every_s)
    stages = Stages.over(Runtime(settings, catalog))
    stages.services.append(EmbeddedStateLock(settings.resolved_state_url))
    rules = add_rules(stages)
    add_reload_follower(stages)
    ingest = add_ingest(stages, observers=[rules.observe])
    rules.hearing = ingest_hearing(ingest)
    _add_api_and_status(stages, status_every_s)
    return stages.supervisor()


def cluster_process(settings: Settings, catalog: Catalog, status_every_s: float) -> Supervisor:
    """`ioc run` as a node of a cluster: ingest in the shared group and the API on every
    node; the rules (following all telemetry on their own session) and the notifier on the
    leader only (`ClusterNode`)."""
    from ioc.app._notify import build_senders

    runtime = Runtime(settings, catalog)
    # Bad rule or notification files, or a channel not configured, stop the start, not a
    # later takeover.
    config = runtime.notifications.get()
    if config is not None:
        build_senders(settings, config, None)
    node = settings.node_name
    group = settings.mqtt_shared_group or DEFAULT_GROUP
    stages = Stages.over(runtime)

    def ingest_of(name: str, adopt: bool = False) -> IngestService:
        client_id = ingest_client_id(settings.mqtt_client_id, name)
        options = mqtt_options(settings, client_id, False, group, adopt)
        return _ingest_service(runtime, [], options=options)

    ingest = ingest_of(node)
    stages.services.append(ingest)
    stages.ingest = ingest
    publisher = _alert_publisher(settings, f"alerts-{node}")
    stages.services.append(Managed("alert publisher", publisher.start, publisher.stop))

    def leader_services(leadership: Leadership) -> list[Service]:
        rules, services = _rules_and_notifier(runtime, publisher, leader_guard=leadership.guard)
        keeper = GapKeeper(runtime.writable_telemetry(), lambda: ingest.consumer.connected)
        consumer = _judging_consumer(runtime, rules, False, leadership, keeper)
        rules.hearing = lambda: consumer.connected
        subscription = Managed("rules subscription", consumer.start, consumer.stop)
        # Stopped the other way round: no more messages, then what is kept, then the rules.
        return [rules, keeper, subscription, *services[1:]]

    cluster = ClusterNode(
        runtime.state, node, int(settings.lease_s * 1000), ingest, leader_services,
        lambda name: ingest_of(name, adopt=True),
    )  # fmt: skip
    stages.services.append(cluster)
    stages.cluster = cluster
    add_reload_follower(stages)
    _add_api_and_status(stages, status_every_s)
    return stages.supervisor()


def _add_api_and_status(stages: Stages, status_every_s: float) -> None:
    server = add_api(stages)
    stages.services.append(
        Managed("api banner", lambda: log.info("API at %s/docs", server.url), None)
    )
    add_status(stages, status_every_s)


def api_process(
    settings: Settings, catalog: Catalog, announce: Callable[[str], None]
) -> Supervisor:
    """`ioc api`: the API and the wall alone (following reloads, but not the one `ioc rules
    reload` signals); `announce` gets the URL once it listens."""
    stages = Stages.over(Runtime(settings, catalog))
    add_reload_follower(stages, pid_file=False)
    server = add_api(stages)
    stages.services.append(Managed("api banner", lambda: announce(server.url), None))
    return stages.supervisor()


def ingest_hearing(ingest: IngestService) -> Callable[[], bool]:
    """Whether devices reach ioc through this ingest now: broker up, ingest not stalled."""

    def hearing() -> bool:
        stalled = ingest.pipeline.pending >= ingest.max_in_flight or ingest.stopped.is_set()
        return ingest.consumer.connected and not stalled

    return hearing


def _judging_consumer(
    runtime: Runtime,
    rules: RulesService,
    ack_on_receipt: bool,
    leadership: Leadership | None = None,
    keeper: GapKeeper | None = None,
) -> MqttConsumer:
    """The rules' own subscription, decoded as ingest does.

    `ioc rules` alone acknowledges on receipt. A cluster's leader takes the one session every
    leader uses in turn: a message is acknowledged once the rules have judged it and stored
    the alerts it raised (a leader dying before that leaves it to the next, which judges it
    again: an alert already open is not raised twice), and never by a node that no longer
    leads (the session keeps it for the next leader); such a node does not connect again.
    A cluster's leader also stores what the ingest group may be missing (`keeper`, on its own
    thread): such a message is acknowledged once judged and stored.
    """
    decoder = following_decoder(runtime)
    acks: JointAcks | None = None

    def on_messages(messages: list[Message]) -> None:
        if leadership is not None and not leadership.acting():
            return
        now = now_ms()
        unjudged = []  # nothing to judge in them (refused; ingest dead-letters them)
        judged = []
        for topic, payload, retained, token in messages:
            item = decoder.decode(topic, payload, retained, now).item
            if item is None:
                unjudged.append(token)
            else:
                judged.append((item, token))
        if keeper is not None and acks is not None and keeper.keeping(consumer.connections):
            joint, kept = acks, [token for _item, token in judged]
            joint.both(kept)
            # One the keeper cannot take (too many waiting) is never acknowledged: the broker
            # gives it again on the session's next connection.
            keeper.keep([item for item, _token in judged], lambda: joint.done(kept))
        for item, token in judged:
            redelivered = token in consumer.redelivered
            rules.observe(item, None if ack_on_receipt else token, redelivered)
        if unjudged and not ack_on_receipt:
            consumer.acknowledge(unjudged)

    client_id = f"{runtime.settings.mqtt_client_id}-rules"
    options = mqtt_options(runtime.settings, client_id, ack_on_receipt, shared_group=None)
    admit = leadership.acting if leadership is not None else None
    consumer = MqttConsumer(options, on_messages, admit=admit)
    if not ack_on_receipt:
        acks = JointAcks(consumer.acknowledge)
        rules.acknowledge = acks.done  # once judged, and its alerts stored (and kept)
    return consumer


def following_decoder(runtime: Runtime) -> Decoder:
    """A decoder of the catalog in force, following its changes."""
    decoder = build_decoder(runtime.settings, runtime.catalog)
    runtime.catalogs.subscribe(lambda catalog: decoder.use_inventory(catalog.inventory))
    return decoder


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
