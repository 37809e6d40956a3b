"""What the API reads and writes, handed to it by the composition root."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Literal, Protocol

from ioc.alerts import ActionQueue, AlertReader, WindowStore
from ioc.api._live import AlertFeed
from ioc.api._overview import RuleRoles
from ioc.api._security import TokenThrottle
from ioc.domain import (
    DEFAULT_ZONE,
    AckClaim,
    Aggregate,
    Alert,
    AlertSpan,
    AlertState,
    ApiToken,
    AuditEntry,
    AuditTrail,
    Caller,
    ClusterStatus,
    Inventory,
    InventoryVersion,
    LatestValues,
    MaintenanceWindow,
    Meeting,
    Notification,
    NotificationStatus,
    Profile,
    Role,
    SeriesPoint,
    Severity,
    SignedIn,
    StageBeat,
    epoch_ms_of,
    zone_named,
)
from ioc.i18n import Speech
from ioc.inventory import EntryChange
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


class AlertLog(AlertReader, ActionQueue, WindowStore, AlertFeed, Protocol):
    """The alerts as the API uses them (the state database's AlertRepository): what its use
    cases (`ioc.alerts`: queries, operator requests, windows) and its live view declare, and
    the few reads only routes make."""

    def list_alerts(
        self,
        states: Iterable[AlertState] = (),
        severities: Iterable[Severity] = (),
        area_ids: Iterable[str] | None = None,
        limit: int = 500,
        device_ids: Iterable[str] | None = None,
    ) -> list[Alert]:
        """Alerts newest first, filtered (by device too: a device's page)."""

    def get(self, alert_id: int) -> Alert | None:
        """One alert as it is now."""

    def spans(self, rule_ids: Iterable[str], start_ms: int, end_ms: int) -> list[AlertSpan]:
        """The alerts of these rules open at some moment of [start, end) (the trend strip)."""

    def current_windows(self, now_ms: int) -> list[MaintenanceWindow]:
        """Windows not ended and not yet over."""


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


class SessionDesk(Protocol):
    """People signing in and out (ioc.accounts' AccountDesk)."""

    def sign_in(self, username: str, password: str, origin: str) -> tuple[SignedIn, str]: ...
    def session(self, secret: str) -> SignedIn | None: ...
    def sign_out(self, session: SignedIn, origin: str) -> None: ...


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


class AuditReader(AuditTrail, Protocol):
    """The audit trail as the API keeps and reads it (the state database's AuditLog)."""

    def find(
        self,
        since_ms: int | None = None,
        until_ms: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Entries newest first, filtered."""
        ...


class _Unkept:
    """The trail of an API built without one: nothing is kept."""

    def record(self, entry: AuditEntry) -> AuditEntry:
        return entry


_UNKEPT = _Unkept()


@dataclass(frozen=True, slots=True)
class RulesControl:
    """The rule set as the API sees it: what is in force, the roles its rules play on the
    wall, and how to reload it."""

    ids: frozenset[str]
    roles: RuleRoles = field(default_factory=RuleRoles)
    # Checks the files and asks every process to reload (the argument: who asks); returns what
    # happened, raises BadFileError (bad files) or another IocError (no rules process runs).
    reload: Callable[[Caller], str] | None = None


class InventoryEdited(Protocol):
    """What an edit did: the version it recorded (None for a dry run, or no change)."""

    @property
    def version(self) -> InventoryVersion | None: ...
    @property
    def changes(self) -> list[EntryChange]: ...
    @property
    def summary(self) -> str: ...


class InventoryKeeper(Protocol):
    """The live inventory: read it and its history, and edit one entry at a time."""

    def in_force(self) -> tuple[int, dict[str, Any]]: ...
    def history(self, limit: int, before: int | None = None) -> list[InventoryVersion]: ...
    def version(self, number: int) -> tuple[InventoryVersion, list[EntryChange]]: ...
    def edit(
        self, kind: str, entry_id: str, entry: dict[str, object] | None, recorded_by: str,
        reason: str, dry_run: bool = False,
    ) -> InventoryEdited: ...  # fmt: skip


class MeetingKeeper(Protocol):
    """Meetings as the API plans and reads them (`ioc.app.MeetingDesk`)."""

    def plan(
        self, title: str, starts_at_ms: int, duration_ms: int, caller: Caller,
        area: str | None = None, device_class: str | None = None,
        points: Sequence[str] | None = None, *, now_ms: int,
    ) -> Meeting: ...  # fmt: skip
    def between(self, start_ms: int, end_ms: int) -> list[Meeting]: ...
    def readiness(self, meeting_id: int) -> tuple[Meeting, list[PointReadiness]]: ...
    def report(self, meeting_id: int, now_ms: int) -> tuple[Meeting, list[dict[str, object]]]: ...


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The API's resources; built in `ioc/app`, kept in the app's lifespan state."""

    inventory: Callable[[], Inventory]  # the inventory in force: read at each use
    profiles: dict[str, Profile]
    alerts: AlertLog
    tokens: TokenKeeper
    clock: Callable[[], int]
    # The rules in force, when known: read at each use, so that a reload shows at once.
    rules: Callable[[], RulesControl] | None = None
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
    report_page: Callable[[Period, Scope, str, Speech], str] | None = None
    meetings: MeetingKeeper | None = None
    inventory_desk: InventoryKeeper | None = None  # the live inventory's edits (admin)
    # Failed token and password attempts, per address.
    throttle: TokenThrottle = field(default_factory=TokenThrottle)
    accounts: SessionDesk | None = None  # people's sign-in; none: tokens only
    poll_every_s: float = 0.25  # how often the live view reads the alert log
    beat_every_s: float = 5.0  # how often the stream says how fresh its data is
    # Set when the server stops: live streams end instead of holding the shutdown up.
    stopping: threading.Event = field(default_factory=threading.Event)
    # The deployment's zone: a time given without an offset, or a bare date, is read in it.
    zone: tzinfo = field(default_factory=lambda: zone_named(DEFAULT_ZONE))
    language: Literal["vi", "en"] = "vi"  # the deployment's default (IOC_LANGUAGE)
    # Where operators' and admins' actions are kept; an API built without one (tests of other
    # parts) keeps none.
    audit: AuditReader | None = None

    def trail(self) -> AuditTrail:
        """Where this API's actions are kept (a trail that keeps nothing when none is)."""
        return self.audit if self.audit is not None else _UNKEPT

    def epoch_ms(self, moment: datetime) -> int:
        """A time given to the API as epoch ms; one without an offset is in `zone`."""
        return epoch_ms_of(moment, self.zone)

    def rule_roles(self) -> RuleRoles:
        """The roles of the rules in force (none when the rules are not known)."""
        return self.rules().roles if self.rules is not None else RuleRoles()


@dataclass(frozen=True, slots=True)
class ProcessMetrics:
    """Figures of the stages running beside the API: name -> (value, help)."""

    counters: dict[str, tuple[float, str]] = field(default_factory=dict)
    gauges: dict[str, tuple[float, str]] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
