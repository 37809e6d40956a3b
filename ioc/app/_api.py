"""The API's ports from the runtime, and a server that runs beside the other stages."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio
import uvicorn

from ioc.api import ApiContext, ProcessMetrics, RuleRoles, RulesControl, create_app
from ioc.app._cluster import ClusterNode
from ioc.app._ingest import IngestService
from ioc.app._inventory_desk import InventoryDesk
from ioc.app._meetings import MeetingDesk
from ioc.app._notify import ack_links
from ioc.app._operator import OperatorDesk
from ioc.app._reloading import request_reload
from ioc.app._reports import availability_page, availability_report
from ioc.app._rules import RulesService
from ioc.app._runtime import Current, Runtime
from ioc.app._supervisor import ServiceError
from ioc.config import Settings
from ioc.domain import AckClaim, BadInput, Caller, now_ms
from ioc.notify import AckLinks
from ioc.rules import LoadedRule
from ioc.store import StoreError

log = logging.getLogger("ioc.api")

GRACE_S = 3  # how long requests in flight may finish when the API stops


def api_context(
    runtime: Runtime,
    process_metrics: Callable[[], ProcessMetrics] | None = None,
    attention: Mapping[str, Callable[[], str | None]] | None = None,
    clock: Callable[[], int] = now_ms,
) -> ApiContext:
    """The API's ports over the runtime; `clock` is the one the rules stamp alerts with (a
    demo's simulated clock)."""
    settings, catalog = runtime.settings, runtime.catalog
    desk = OperatorDesk(runtime)  # the stores and use cases the CLI's commands use too
    telemetry = runtime.telemetry
    links = runtime.notifications.derive(lambda n: ack_links(settings, n) if n else None)
    control = runtime.rules.derive(
        lambda rules: rules_control(rules, lambda by: request_reload(runtime, by))
    )
    return ApiContext(
        inventory=lambda: runtime.catalog.inventory,
        profiles=catalog.profiles,
        alerts=desk.alerts,
        tokens=desk.tokens,
        clock=clock,
        zone=runtime.settings.zone,
        language=runtime.settings.language,
        audit=runtime.audit(),
        accounts=runtime.accounts(),
        rules=control.get,
        process_metrics=process_metrics,
        telemetry=telemetry,
        heartbeats=runtime.heartbeats().beats,
        ack_links=_LinksInForce(links) if links.get() is not None else None,
        outbox=desk.outbox,
        reports=lambda period, scope, by: availability_report(runtime, period, scope, by),
        meetings=MeetingDesk(runtime),
        inventory_desk=InventoryDesk(runtime),
        report_page=lambda period, scope, by, reader: availability_page(
            runtime, period, scope, by, reader
        ),
        cluster=((lambda: desk.cluster(now_ms())) if settings.clustered else None),
        attention=attention or {},
        probes={
            "broker": lambda: _failure(lambda: _reach(settings.mqtt.host, settings.mqtt.port)),
            "telemetry_store": lambda: _failure(telemetry.ping),
        },
    )


class _LinksInForce:
    """Acknowledgement links read with the notification file in force."""

    def __init__(self, links: Current[AckLinks | None]) -> None:
        self._links = links

    def read(self, token: str) -> AckClaim:
        """What the link grants (IocError for a bad one)."""
        links = self._links.get()
        if links is None:
            raise BadInput("acknowledgement links are not in use")
        return links.read(token)


def rules_control(rules: Sequence[LoadedRule], reload: Callable[[Caller], str]) -> RulesControl:
    """What the API knows of a rule set: its ids, and the roles its rules play on the wall."""
    absence = {r.info.id for r in rules if r.spec.condition.kind == "absence"}
    roles = RuleRoles(
        down=frozenset(absence),
        power=frozenset(
            r.info.id for r in rules if r.info.probable_cause == "commercialPowerFailure"
        ),
        link=frozenset(r.info.id for r in rules if r.info.outage and r.info.id not in absence),
    )
    return RulesControl(frozenset(r.info.id for r in rules), roles, reload)


def _reach(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=2):
        pass


def _failure(check: Callable[[], object]) -> str | None:
    try:
        check()
    except (OSError, StoreError) as exc:
        return str(exc) or type(exc).__name__
    return None


def stage_metrics(
    ingest: IngestService | None,
    current_rules: Callable[[], RulesService | None],
    cluster: ClusterNode | None = None,
) -> Callable[[], ProcessMetrics]:
    """/metrics figures of the stages running in this process (the rules' while they run
    here: on a cluster, while this node leads)."""

    def collect() -> ProcessMetrics:
        rules = current_rules()
        counters: dict[str, tuple[float, str]] = {}
        gauges: dict[str, tuple[float, str]] = {}
        rejected: dict[str, int] = {}
        if ingest is not None:
            stats = ingest.stats.snapshot()
            counters |= {
                "ingest_received": (stats.received, "MQTT messages taken"),
                "ingest_accepted": (stats.accepted, "decoded into readings, events, statuses"),
                "ingest_stored": (stats.stored, "items written to the telemetry store"),
                "ingest_duplicates": (stats.duplicates, "redeliveries recognised and skipped"),
                "ingest_store_retries": (stats.store_retries, "telemetry writes retried"),
            }
            gauges |= {
                "ingest_pending": (ingest.pipeline.pending, "messages not yet acknowledged"),
                "ingest_last_write_seconds": (stats.last_write_s, "last batch write duration"),
            }
            rejected = dict(stats.rejected)
        if rules is not None:
            engine = rules.engine.stats
            counters |= {
                "rules_items": (engine.items, "items judged by the rules"),
                "rules_signals": (engine.signals, "raise / update / clear signals"),
                "rules_stale": (engine.stale, "readings older than the last judged"),
                "rules_replayed": (engine.replayed, "redelivered events judged already"),
            }
            counters["rules_reloads"] = (rules.stats.reloads, "rule sets put in force by a reload")
            counters["rules_refused_by_state"] = (
                rules.stats.refused_by_state,
                "alert work the state database refused (integrity): dropped, needs an operator",
            )
            gauges["rules_backlog"] = (rules.backlog, "items waiting for the rule engine")
        if cluster is not None:
            term = cluster.leadership.term
            gauges |= {
                "cluster_leading": (int(term is not None), "1 while this node leads"),
                "cluster_term": (term or 0, "the lease's term while this node leads"),
                "cluster_lease_age_seconds": (
                    cluster.leadership.lease_age_s() or 0.0,
                    "since this node last renewed the leader's lease (0 unless it leads)",
                ),
            }
            counters["cluster_adopted_sessions"] = (
                cluster.adopted,
                "ingest sessions of dead nodes this node took over and ended",
            )
        return ProcessMetrics(counters, gauges, rejected)

    return collect


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """Where the API listens, and the origins a browser may call it from."""

    host: str
    port: int
    cors_origins: Sequence[str] = ()

    @classmethod
    def of(cls, settings: Settings) -> ApiOptions:
        """IOC_API_HOST, IOC_API_PORT, IOC_API_CORS_ORIGINS."""
        return cls(settings.api_host, settings.api_port, tuple(settings.api_cors_origins))


class StreamHangUps(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" when all it holds is a live-stream
    client that hung up: fastapi's SSE keep-alive task then fails to send into the closed
    stream (BrokenResourceError; fastapi discussion #15725). A wall closed or reloaded is
    routine, and a traceback for each would bury the errors that matter."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, BaseExceptionGroup):
            return True
        _hung_up, rest = error.split((anyio.BrokenResourceError, anyio.ClosedResourceError))
        return rest is not None


class ApiServer:
    """uvicorn in a thread, stopped like Ctrl-C stops it."""

    name = "api"

    def __init__(self, context: ApiContext, options: ApiOptions) -> None:
        config = uvicorn.Config(
            create_app(context, options.cors_origins),
            host=options.host,
            port=options.port,
            log_level="warning",
            access_log=False,
            # Live streams never end by themselves: they are cut once this grace is over.
            timeout_graceful_shutdown=GRACE_S,
        )
        self._server = uvicorn.Server(config)
        hang_ups = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, StreamHangUps) for f in hang_ups.filters):
            hang_ups.addFilter(StreamHangUps())
        self.context = context
        self._stopping = context.stopping
        self._thread = threading.Thread(target=self._server.run, name="api")
        self.url = f"http://{options.host}:{options.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        """Serve in the background; raise OSError if it cannot listen."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OSError(
                    f"the API cannot listen at {self.url} (is the port in use? "
                    "choose another with IOC_API_PORT)"
                )
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        """Whether it still serves (uvicorn ends by itself only on a fatal error)."""
        return self._thread.is_alive()

    @property
    def failure(self) -> BaseException | None:
        """Set when the server ended without being asked to."""
        if self._server.started and not self.running and not self._stopping.is_set():
            return ServiceError(f"the API server at {self.url} stopped by itself")
        return None

    @property
    def started(self) -> bool:
        """Whether it listens."""
        return self._server.started

    def stop(self) -> None:
        """End the live streams, finish the requests in flight, and stop."""
        self._stopping.set()
        self._server.should_exit = True
        self._thread.join(timeout=30)
