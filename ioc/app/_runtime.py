"""What one process shares, built once by the process that runs it: the catalog, the state
database (migrated once, one pool for every store), the telemetry store, and what a reload
replaces (the rule set, the notification file) in holders that swap whole and tell their
subscribers.

Services take what they need from here; none opens a database or reads a rule file itself, so
a reload reaches every consumer in the process (`Runtime.reload`), and through the state
database every process of every node (`ioc.app._reloading`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlalchemy import Engine

from ioc.app._catalog import Catalog, load_catalog
from ioc.app._stores import open_telemetry_store, prepare_for_writing
from ioc.config import Settings
from ioc.domain import now_ms
from ioc.state import (
    AccountStore,
    AlertRepository,
    AuditLog,
    DeadLetterLog,
    Guard,
    HeartbeatStore,
    InventoryVersions,
    MeetingStore,
    Outbox,
    ReloadRequests,
    TokenStore,
    WatchLog,
    connect_state,
)
from ioc.store import TelemetryStore

# The rules and the notifier are imported on first use: `ioc ingest` starts without them.
if TYPE_CHECKING:
    from ioc.accounts import AccountDesk, Directory
    from ioc.app._inventory import LiveInventory
    from ioc.notify import NotifyConfig
    from ioc.rules import LoadedRule

T = TypeVar("T")
U = TypeVar("U")


class Current(Generic[T]):
    """A value a reload replaces whole: a reader gets the old one or the new one, never a mix,
    and every subscriber is told of the new one."""

    def __init__(self, value: T) -> None:
        self._value = value
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[T], None]] = []

    def get(self) -> T:
        """The value in force."""
        return self._value

    def replace(self, value: T) -> None:
        """Put `value` in force, then tell the subscribers (in the order they subscribed)."""
        with self._lock:
            self._value = value
            subscribers = list(self._subscribers)
        for tell in subscribers:
            tell(value)

    def subscribe(self, tell: Callable[[T], None]) -> Callable[[], None]:
        """Call `tell` with each new value; returns what ends the subscription."""
        with self._lock:
            self._subscribers.append(tell)

        def cancel() -> None:
            with self._lock:
                if tell in self._subscribers:
                    self._subscribers.remove(tell)

        return cancel

    def derive(self, make: Callable[[T], U]) -> Current[U]:
        """A value made from this one, made again at each replacement."""
        derived = Current(make(self._value))
        self.subscribe(lambda value: derived.replace(make(value)))
        return derived


class Runtime:
    """A process's shared resources, each made on first use and closed by `close`."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None) -> None:
        """Without `catalog`, the settings' profiles and inventory are read on first use (an
        operator command that reads only the state database needs neither)."""
        self.settings = settings
        self._given = catalog
        self._catalogs: Current[Catalog] | None = None
        self._lock = threading.RLock()  # first uses from several threads build one of each
        self._state: Engine | None = None
        self._telemetry: TelemetryStore | None = None
        self._rules: Current[list[LoadedRule]] | None = None
        self._notifications: Current[NotifyConfig | None] | None = None
        self._live: LiveInventory | None = None

    @property
    def catalogs(self) -> Current[Catalog]:
        """The device classes and the inventory in force (CatalogError on first use when
        wrong): the catalog given, else the live inventory's newest version (the settings'
        file before the first: `ioc.app._inventory`)."""
        with self._lock:
            if self._catalogs is None:
                if self._given is not None:
                    self._catalogs = Current(self._given)
                else:
                    from ioc.app._inventory import catalog_in_force

                    self._catalogs = Current(catalog_in_force(self, load_catalog(self.settings)))
            return self._catalogs

    def file_catalog(self) -> Catalog:
        """The catalog given, else the settings' files read now (the live inventory's first
        version, and what a process starts with)."""
        return self._given if self._given is not None else load_catalog(self.settings)

    @property
    def catalog(self) -> Catalog:
        """The catalog in force now (`catalogs` to follow its changes)."""
        return self.catalogs.get()

    def fitted(self, catalog: Catalog) -> tuple[list[LoadedRule], NotifyConfig | None]:
        """The rule set and notification file in force, checked against a changed catalog
        (RuleError, NotifyConfigError when the change would break them)."""
        from ioc.notify import recheck_notify_config
        from ioc.rules import reselect

        rules = reselect(self.rules.get(), catalog.profiles, catalog.inventory)
        notifications = self.notifications.get()
        if notifications is not None:
            from ioc.app._notify import rule_ids_of

            recheck_notify_config(notifications, catalog.inventory, rule_ids_of(rules))
        return rules, notifications

    def put_catalog(
        self,
        catalog: Catalog,
        fitted: tuple[list[LoadedRule], NotifyConfig | None] | None = None,
    ) -> None:
        """Put a changed catalog in force, with the rules in force selecting in it again (the
        change checked first, unless `fitted` gives what `fitted()` said of it; what is in
        force stays when it raises)."""
        with self._lock:
            loaded = self._rules is not None or self._notifications is not None
            no_rules: tuple[list[LoadedRule], NotifyConfig | None] = ([], None)
            rules, notifications = (fitted or self.fitted(catalog)) if loaded else no_rules
            self.catalogs.replace(catalog)
            if self._notifications is not None:
                self._notifications.replace(notifications)
            if self._rules is not None:
                self._rules.replace(rules)

    # -- the state database and its stores --------------------------------------------------

    @property
    def state(self) -> Engine:
        """The state database, migrated to the newest schema (once per process)."""
        with self._lock:
            if self._state is None:
                # Half a lease: a frozen node's locks are gone before its lease runs out.
                idle_ms = int(self.settings.lease_s * 500)
                self._state = connect_state(self.settings.resolved_state_url, idle_ms)
            return self._state

    def alerts(self, leader_guard: Guard | None = None) -> AlertRepository:
        """Alerts, their requests, rule state and windows (writes fenced by `leader_guard`)."""
        return AlertRepository(self.state, leader_guard)

    def outbox(self, leader_guard: Guard | None = None) -> Outbox:
        """The notification outbox."""
        return Outbox(self.state, leader_guard)

    def tokens(self) -> TokenStore:
        """API tokens."""
        return TokenStore(self.state)

    def accounts(self, clock: Callable[[], int] = now_ms) -> AccountDesk:
        """People's accounts and sessions, with the province's directory when IOC_DIRECTORY_FILE
        names one."""
        from ioc.accounts import AccountDesk, AccountPolicy

        settings = self.settings
        policy = AccountPolicy(
            settings.session_hours * 3600, settings.lockout_attempts,
            settings.lockout_minutes * 60,
        )  # fmt: skip
        return AccountDesk(AccountStore(self.state), self.audit(), clock, policy, self.directory())

    def directory(self) -> Directory | None:
        """The province's directory (IOC_DIRECTORY_FILE, read and checked here: a mistake
        stops the start), or None."""
        from ioc.accounts import Directory, read_directory_config

        settings = self.settings
        if settings.directory_file is None:
            return None
        password = settings.directory_password
        return Directory(
            read_directory_config(settings.directory_file),
            password.get_secret_value() if password is not None else None,
        )

    def audit(self) -> AuditLog:
        """The audit trail: every operator's and admin's action."""
        return AuditLog(self.state)

    def dead_letters(self) -> DeadLetterLog:
        """Messages ingest refused, capped at IOC_DEAD_LETTER_LIMIT."""
        return DeadLetterLog(self.state, self.settings.dead_letter_limit)

    def meetings(self) -> MeetingStore:
        """Planned meetings."""
        return MeetingStore(self.state)

    def watch_log(self) -> WatchLog:
        """What the rules watched, and when each device was first heard."""
        return WatchLog(self.state)

    def heartbeats(self) -> HeartbeatStore:
        """The stages' heartbeats."""
        return HeartbeatStore(self.state)

    def reload_requests(self) -> ReloadRequests:
        """The reload requests every process follows."""
        return ReloadRequests(self.state)

    def inventory_versions(self) -> InventoryVersions:
        """The live inventory's versions."""
        return InventoryVersions(self.state)

    @property
    def live_inventory(self) -> LiveInventory:
        """This process's view of the live inventory (one per process: the version in force)."""
        with self._lock:
            if self._live is None:
                from ioc.app._inventory import LiveInventory

                self._live = LiveInventory(self)
            return self._live

    @property
    def telemetry(self) -> TelemetryStore:
        """The telemetry store (a missing InfluxDB 1.x database is created by ingest only)."""
        with self._lock:
            if self._telemetry is None:
                catalogs = self.catalogs
                self._telemetry = open_telemetry_store(
                    self.settings, lambda: catalogs.get().inventory
                )
            return self._telemetry

    def writable_telemetry(self) -> TelemetryStore:
        """The telemetry store, its InfluxDB 1.x database created first when missing (raising
        now when it cannot be): for ingest, which writes."""
        store = self.telemetry
        prepare_for_writing(store, self.settings)
        return store

    # -- what a reload replaces -------------------------------------------------------------

    @property
    def rules(self) -> Current[list[LoadedRule]]:
        """The rule set in force (RuleError on first use when the files are wrong)."""
        with self._lock:
            if self._rules is None:
                from ioc.app._ruleset import load_rule_set

                self._rules = Current(load_rule_set(self.settings, self.catalog))
            return self._rules

    @property
    def notifications(self) -> Current[NotifyConfig | None]:
        """The notification file in force; None when IOC_NOTIFY_CONFIG names none."""
        with self._lock:
            if self._notifications is None:
                from ioc.app._notify import load_notifications

                loaded = load_notifications(self.settings, self.catalog, self.rules.get())
                self._notifications = Current(loaded)
            return self._notifications

    @property
    def holds_rules(self) -> bool:
        """Whether this process has read the rules (`ioc ingest` never does)."""
        return self._rules is not None

    def read_files(self) -> tuple[list[LoadedRule], NotifyConfig | None]:
        """The rule files and the notification file as they are now, checked as at start
        (RuleError, NotifyConfigError), without putting them in force."""
        from ioc.app._notify import build_senders, load_notifications
        from ioc.app._ruleset import load_rule_set

        rules = load_rule_set(self.settings, self.catalog)
        notifications = load_notifications(self.settings, self.catalog, rules)
        if notifications is not None:
            build_senders(self.settings, notifications, None)  # a channel not configured
        return rules, notifications

    def reload(self) -> str:
        """Read the files again and put them in force in this process, both or neither (a bad
        file raises as `read_files`, and what is in force stays); says what is in force."""
        with self._lock:
            rules, notifications = self.read_files()
            # The file first: whatever the new rules raise is told by the new file.
            if self._notifications is not None:
                self._notifications.replace(notifications)
            if self._rules is not None:
                self._rules.replace(rules)
        file = "" if notifications is None else f" and {notifications.path.name}"
        return f"{len(rules)} rules{file}"

    def close(self) -> None:
        """Close the telemetry store and the state database's connections (a later use opens
        them again: a report read after the services stopped)."""
        with self._lock:
            if self._telemetry is not None:
                self._telemetry.close()
                self._telemetry = None
            if self._state is not None:
                # Its stores keep the engine: a later use connects again, and a later close
                # lets go again.
                self._state.dispose()
