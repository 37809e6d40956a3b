"""What the API reads and writes, handed to it by the composition root."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ioc.api._overview import RuleRoles
from ioc.domain import (
    AckClaim,
    Aggregate,
    Inventory,
    LatestValues,
    Notification,
    NotificationStatus,
    Profile,
    SeriesPoint,
)
from ioc.state import AlertRepository, StageBeat, TokenStore


class TelemetryReader(Protocol):
    """The telemetry store as the API reads it."""

    def latest(
        self, device_class: str, device_ids: Sequence[str] | None = None
    ) -> list[LatestValues]:
        """The newest stored reading of each listed device."""

    def series(
        self,
        device_class: str,
        device_id: str,
        metric: str,
        start_ms: int,
        end_ms: int,
        step_s: int,
        aggregate: Aggregate,
    ) -> list[SeriesPoint]:
        """One metric of one device, downsampled."""


class AckReader(Protocol):
    """Reads acknowledgement links (ioc.notify's AckLinks); raises ValueError for a bad one."""

    def read(self, token: str) -> AckClaim:
        """What the link grants."""


class NotificationLog(Protocol):
    """The notification outbox as the API reads it (the state database's Outbox)."""

    def listing(
        self, statuses: Sequence[NotificationStatus] = (), limit: int = 100
    ) -> list[Notification]:
        """Newest first, by status."""


# A readiness check: None when the thing answers, else what is wrong.
Probe = Callable[[], str | None]


@dataclass(frozen=True, slots=True)
class RulesControl:
    """The rule set as the API sees it: what is in force, and how to reload it."""

    ids: frozenset[str]
    # Checks the files and asks the running rules to reload; returns what happened, raises
    # RuleError (bad files) or ProcessLookupError (nothing running).
    reload: Callable[[], str] | None = None


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The API's resources; built in `ioc/app`, kept in the app's lifespan state."""

    inventory: Inventory
    profiles: dict[str, Profile]
    alerts: AlertRepository
    tokens: TokenStore
    clock: Callable[[], int]
    rule_roles: RuleRoles = field(default_factory=RuleRoles)
    rules: RulesControl | None = None  # the rules in force, when known
    # How long an acknowledge / resolve waits for the rules process to carry it out.
    request_wait_s: float = 10.0
    # When ingest and rules run in this process: their figures for /metrics.
    process_metrics: Callable[[], ProcessMetrics] | None = None
    telemetry: TelemetryReader | None = None
    heartbeats: Callable[[], dict[str, StageBeat]] | None = None
    probes: Mapping[str, Probe] = field(default_factory=dict)
    ack_links: AckReader | None = None  # when notifications carry acknowledgement links
    outbox: NotificationLog | None = None
    poll_every_s: float = 0.25  # how often the live view reads the alert log
    beat_every_s: float = 5.0  # how often the stream says how fresh its data is
    # Set when the server stops: live streams end instead of holding the shutdown up.
    stopping: threading.Event = field(default_factory=threading.Event)


def carry_out(
    context: ApiContext, alert_id: int, action: str, actor: str, note: str
) -> tuple[int, str | None]:
    """Queue an action for the rules process (which owns the alerts) and wait for its outcome:
    the request id, and "ok", its refusal, or None if no rules process took it in time."""
    request_id = context.alerts.request(alert_id, action, actor, note, context.clock())
    return request_id, context.alerts.wait_for_result(request_id, context.request_wait_s)


@dataclass(frozen=True, slots=True)
class ProcessMetrics:
    """Figures of the stages running beside the API: name -> (value, help)."""

    counters: dict[str, tuple[float, str]] = field(default_factory=dict)
    gauges: dict[str, tuple[float, str]] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
