"""What the API reads and writes, handed to it by the composition root."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ioc.api._overview import RuleRoles
from ioc.api._security import TokenThrottle
from ioc.domain import (
    AckClaim,
    ActionOutcome,
    Aggregate,
    Alert,
    AlertAction,
    AlertSpan,
    AlertState,
    AlertTransition,
    ApiToken,
    ClusterStatus,
    Inventory,
    LatestValues,
    LoggedTransition,
    MaintenanceWindow,
    Meeting,
    Notification,
    NotificationStatus,
    Profile,
    Role,
    SeriesPoint,
    Severity,
    StageBeat,
)
from ioc.reports import Availability, Period, PointReadiness, Scope


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


class AlertLog(Protocol):
    """The alerts as the API reads and asks for them (the state database's AlertRepository):
    queries, operator requests for the rules process, maintenance windows, the event log."""

    def list_alerts(
        self,
        states: Iterable[AlertState] = (),
        severities: Iterable[Severity] = (),
        area_ids: Iterable[str] | None = None,
        limit: int = 500,
        device_ids: Iterable[str] | None = None,
    ) -> list[Alert]:
        """Alerts newest first, filtered."""

    def get(self, alert_id: int) -> Alert | None:
        """One alert as it is now."""

    def history(self, alert_id: int) -> list[AlertTransition]:
        """An alert's audit trail, oldest first."""

    def children(self, alert_id: int) -> list[Alert]:
        """Open alerts grouped under a root."""

    def open_alerts(self) -> list[Alert]:
        """Every alert not yet resolved."""

    def last_event_id(self) -> int:
        """The newest transition's id."""

    def events_after(self, event_id: int, limit: int) -> list[LoggedTransition]:
        """Transitions after an id, oldest first."""

    def spans(self, rule_ids: Iterable[str], start_ms: int, end_ms: int) -> list[AlertSpan]:
        """The alerts of these rules open at some moment of [start, end)."""

    def request(
        self, alert_id: int, action: AlertAction, actor: str, note: str, now_ms: int
    ) -> int:
        """Queue an action for the rules process; its request id."""

    def wait_for_result(
        self, request_id: int, timeout_s: float
    ) -> tuple[ActionOutcome, str] | None:
        """A request's outcome once carried out; None if not within `timeout_s`."""

    def current_windows(self, now_ms: int) -> list[MaintenanceWindow]:
        """Windows not ended and not yet over."""

    def add_window(self, window: MaintenanceWindow) -> MaintenanceWindow:
        """Insert a window; return it with its id."""

    def end_window(self, window_id: int, now_ms: int) -> MaintenanceWindow | None:
        """End a window now; None if there is no such open window."""


class TokenKeeper(Protocol):
    """API tokens (the state database's TokenStore)."""

    def create(
        self,
        role: Role,
        name: str,
        now_ms: int,
        expires_at_ms: int | None = None,
        created_by: str | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token and its secret (shown once), recorded as made by `created_by`."""

    def find(self, secret: str, now_ms: int) -> ApiToken | None:
        """The live (unrevoked, unexpired) token with this secret."""

    def list(self) -> list[ApiToken]:
        """Every token (never the secrets)."""

    def revoke(self, token_id: int, now_ms: int, revoked_by: str | None = None) -> bool:
        """Revoke a live token; False if there is none with that id."""


class AckReader(Protocol):
    """Reads acknowledgement links (ioc.notify's AckLinks); raises IocError for a bad one."""

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
    # BadFileError (bad files) or another IocError (no rules process runs).
    reload: Callable[[], str] | None = None


class MeetingKeeper(Protocol):
    """Meetings as the API plans and reads them (`ioc.app.MeetingDesk`)."""

    def plan(
        self, title: str, starts_at_ms: int, duration_ms: int, created_by: str,
        area: str | None = None, device_class: str | None = None,
        points: Sequence[str] | None = None, *, now_ms: int,
    ) -> Meeting: ...  # fmt: skip
    def between(self, start_ms: int, end_ms: int) -> list[Meeting]: ...
    def readiness(self, meeting_id: int) -> tuple[Meeting, list[PointReadiness]]: ...
    def report(self, meeting_id: int, now_ms: int) -> tuple[Meeting, list[dict[str, object]]]: ...


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The API's resources; built in `ioc/app`, kept in the app's lifespan state."""

    inventory: Inventory
    profiles: dict[str, Profile]
    alerts: AlertLog
    tokens: TokenKeeper
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
    # What needs an operator though everything answers (work a store refused), by stage.
    attention: Mapping[str, Probe] = field(default_factory=dict)
    ack_links: AckReader | None = None  # when notifications carry acknowledgement links
    outbox: NotificationLog | None = None
    cluster: Callable[[], ClusterStatus] | None = None  # on a cluster (PostgreSQL state)
    # Availability of a scope over a period, grouped (`ioc.app.availability_report`).
    reports: Callable[[Period, Scope, str], list[Availability]] | None = None
    # The printable availability report of the same (the last argument: its language).
    report_page: Callable[[Period, Scope, str, str], str] | None = None
    meetings: MeetingKeeper | None = None
    throttle: TokenThrottle = field(default_factory=TokenThrottle)  # failed token attempts
    poll_every_s: float = 0.25  # how often the live view reads the alert log
    beat_every_s: float = 5.0  # how often the stream says how fresh its data is
    # Set when the server stops: live streams end instead of holding the shutdown up.
    stopping: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class ProcessMetrics:
    """Figures of the stages running beside the API: name -> (value, help)."""

    counters: dict[str, tuple[float, str]] = field(default_factory=dict)
    gauges: dict[str, tuple[float, str]] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
