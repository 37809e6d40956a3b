"""Alerts, their audit history, maintenance windows and the rule engine's saved state, in SQL."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ioc.domain import (
    ActionOutcome,
    Alert,
    AlertAction,
    AlertSpan,
    AlertState,
    AlertTransition,
    LoggedTransition,
    MaintenanceWindow,
    Severity,
    TransitionKind,
)
from ioc.state._alert_tables import (
    MAX_NOTE,
    _alert,
    _alert_row,
    _event_row,
    _window,
    _with_id,
    alert_event_table,
    alert_request_table,
    alert_table,
    judged_through_table,
    maintenance_window_table,
    rule_state_table,
)
from ioc.state._db import Guard, in_statements, run_in

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AlertRequest:
    """An operator's acknowledge / resolve / note, waiting for the rules process."""

    id: int
    alert_id: int
    action: AlertAction
    actor: str
    note: str


class JudgedThrough(NamedTuple):
    """How far the rules judged each device: its readings and its events, by their times."""

    readings: dict[str, int]
    events: dict[str, int]


class AlertRepository:
    """The alert store (the alert book's AlertStore) and the queries the CLI and API need.

    On a cluster the rule engine's writes (alerts and their transitions, finished requests,
    saved rule state) carry `leader_guard`, which raises in the same transaction unless this
    node still leads with its term (`ioc.state.fence`); operators' writes (requests, windows)
    come from any node and carry none."""

    def __init__(self, engine: Engine, leader_guard: Guard | None = None) -> None:
        self._engine = engine
        self._leader_guard = leader_guard

    def _run(self, what: str, work: Callable[[Connection], T], write: bool = True) -> T:
        return run_in(self._engine, what, work, write)

    def _run_as_leader(self, what: str, work: Callable[[Connection], T]) -> T:
        return run_in(self._engine, what, work, guard=self._leader_guard)

    # -- the book's store ------------------------------------------------------------------

    def open_alerts(self) -> list[Alert]:
        """Every alert not yet resolved."""
        query = (
            select(alert_table)
            .where(alert_table.c.state != AlertState.RESOLVED.value)
            .order_by(alert_table.c.id)
        )
        return self._run(
            "read open alerts",
            lambda c: [_alert(row) for row in c.execute(query)],
            write=False,
        )

    def create(self, alert: Alert, transition: TransitionKind, actor: str, note: str) -> Alert:
        """Insert a new alert with its first transition; return it with its id."""

        def work(connection: Connection) -> Alert:
            row = _alert_row(alert)
            del row["id"]
            alert_id = connection.execute(
                insert(alert_table).values(row).returning(alert_table.c.id)
            ).scalar_one()
            saved = _with_id(alert, int(alert_id))
            connection.execute(
                insert(alert_event_table),
                [_event_row(AlertTransition(transition, saved, alert.opened_at_ms, actor, note))],
            )
            return saved

        return self._run_as_leader("store an alert", work)

    def record(self, transitions: Sequence[AlertTransition]) -> None:
        """Save each transition's alert as it now is, and the transition, in one go."""
        if not transitions:
            return

        def work(connection: Connection) -> None:
            for transition in transitions:
                row = _alert_row(transition.alert)
                connection.execute(
                    update(alert_table).where(alert_table.c.id == row.pop("id")).values(row)
                )
            events = [_event_row(t) for t in transitions]
            for rows in in_statements(events):
                connection.execute(insert(alert_event_table).values(rows))

        self._run_as_leader("record alert transitions", work)

    def current_windows(self, now_ms: int) -> list[MaintenanceWindow]:
        """Windows not ended and not yet over."""
        table = maintenance_window_table
        query = (
            select(table)
            .where(table.c.ended_at_ms.is_(None), table.c.ends_at_ms > now_ms)
            .order_by(table.c.id)
        )
        return self._run(
            "read maintenance windows",
            lambda c: [_window(row) for row in c.execute(query)],
            write=False,
        )

    def windows_between(self, start_ms: int, end_ms: int) -> list[MaintenanceWindow]:
        """Windows that were in force at some moment of [start, end), ended early or not."""
        table = maintenance_window_table
        query = (
            select(table)
            .where(
                table.c.starts_at_ms < end_ms,
                table.c.ends_at_ms > start_ms,
                or_(table.c.ended_at_ms.is_(None), table.c.ended_at_ms > start_ms),
            )
            .order_by(table.c.id)
        )
        return self._run(
            "read maintenance windows",
            lambda c: [_window(row) for row in c.execute(query)],
            write=False,
        )

    def spans(self, rule_ids: Iterable[str], start_ms: int, end_ms: int) -> list[AlertSpan]:
        """The alerts of these rules open at some moment of [start, end): when each opened,
        was first acknowledged and resolved (reports)."""
        alerts, events = alert_table, alert_event_table
        acknowledged = (
            select(events.c.alert_id, func.min(events.c.at_ms).label("at_ms"))
            .where(events.c.kind == TransitionKind.ACKNOWLEDGED.value)
            .group_by(events.c.alert_id)
            .subquery()
        )
        query = (
            select(
                alerts.c.id, alerts.c.rule_id, alerts.c.device_id, alerts.c.opened_at_ms,
                alerts.c.resolved_at_ms, acknowledged.c.at_ms,
            )
            .select_from(alerts.outerjoin(acknowledged, acknowledged.c.alert_id == alerts.c.id))
            .where(
                alerts.c.rule_id.in_(list(rule_ids)),
                alerts.c.opened_at_ms < end_ms,
                or_(alerts.c.resolved_at_ms.is_(None), alerts.c.resolved_at_ms > start_ms),
            )
            .order_by(alerts.c.id)
        )  # fmt: skip

        def work(connection: Connection) -> list[AlertSpan]:
            return [
                AlertSpan(int(r.id), str(r.rule_id), str(r.device_id), int(r.opened_at_ms),
                          None if r.resolved_at_ms is None else int(r.resolved_at_ms),
                          None if r.at_ms is None else int(r.at_ms))
                for r in connection.execute(query)
            ]  # fmt: skip

        return self._run("read alert spans", work, write=False)

    def add_window(self, window: MaintenanceWindow) -> MaintenanceWindow:
        """Insert a window; return it with its id."""
        reason, created_by = window.reason[:MAX_NOTE], window.created_by[:128]
        row = {
            "scope": window.scope.value,
            "target": window.target,
            "starts_at_ms": window.starts_at_ms,
            "ends_at_ms": window.ends_at_ms,
            "reason": reason,
            "created_by": created_by,
            "ended_at_ms": None,
        }

        def work(connection: Connection) -> MaintenanceWindow:
            table = maintenance_window_table
            new_id = connection.execute(
                insert(table).values(row).returning(table.c.id)
            ).scalar_one()
            return MaintenanceWindow(
                int(new_id),
                window.scope,
                window.target,
                window.starts_at_ms,
                window.ends_at_ms,
                reason,
                created_by,
            )

        return self._run("store a maintenance window", work)

    def end_window(self, window_id: int, now_ms: int) -> MaintenanceWindow | None:
        """End a window now; None if there is no such open window."""
        table = maintenance_window_table

        def work(connection: Connection) -> MaintenanceWindow | None:
            ended = connection.execute(
                update(table)
                .where(table.c.id == window_id, table.c.ended_at_ms.is_(None))
                .values(ended_at_ms=now_ms)
                .returning(*table.c)
            ).first()
            return _window(ended) if ended is not None else None

        return self._run("end a maintenance window", work)

    # -- queries for people ----------------------------------------------------------------

    def list_alerts(
        self,
        states: Iterable[AlertState] = (),
        severities: Iterable[Severity] = (),
        area_ids: Iterable[str] | None = None,
        limit: int = 500,
        device_ids: Iterable[str] | None = None,
    ) -> list[Alert]:
        """Alerts newest first, filtered by state, severity, area (leaf area ids) and device."""
        query = select(alert_table).order_by(alert_table.c.id.desc()).limit(limit)
        wanted_states = [state.value for state in states]
        if wanted_states:
            query = query.where(alert_table.c.state.in_(wanted_states))
        wanted_severities = [severity.value for severity in severities]
        if wanted_severities:
            query = query.where(alert_table.c.severity.in_(wanted_severities))
        if area_ids is not None:
            query = query.where(alert_table.c.area_id.in_(list(area_ids)))
        if device_ids is not None:
            query = query.where(alert_table.c.device_id.in_(list(device_ids)))
        return self._run(
            "list alerts", lambda c: [_alert(row) for row in c.execute(query)], write=False
        )

    def open_on_device(self, device_id: str) -> list[Alert]:
        """The device's alerts not yet resolved, newest first."""
        query = (
            select(alert_table)
            .where(
                alert_table.c.device_id == device_id,
                alert_table.c.state != AlertState.RESOLVED.value,
            )
            .order_by(alert_table.c.id.desc())
        )
        return self._run(
            "list a device's open alerts",
            lambda c: [_alert(row) for row in c.execute(query)],
            write=False,
        )

    def get(self, alert_id: int) -> Alert | None:
        """One alert as it is now."""
        query = select(alert_table).where(alert_table.c.id == alert_id)

        def work(connection: Connection) -> Alert | None:
            row = connection.execute(query).first()
            return _alert(row) if row is not None else None

        return self._run("read an alert", work, write=False)

    def children(self, alert_id: int) -> list[Alert]:
        """Open alerts grouped under a root."""
        query = (
            select(alert_table)
            .where(
                alert_table.c.root_id == alert_id,
                alert_table.c.state != AlertState.RESOLVED.value,
            )
            .order_by(alert_table.c.id)
        )
        return self._run(
            "read an alert's children",
            lambda c: [_alert(row) for row in c.execute(query)],
            write=False,
        )

    def history(self, alert_id: int) -> list[AlertTransition]:
        """An alert's audit trail, oldest first (each with the alert as it is now)."""

        def work(connection: Connection) -> list[AlertTransition]:
            row = connection.execute(
                select(alert_table).where(alert_table.c.id == alert_id)
            ).first()
            if row is None:
                return []
            alert = _alert(row)
            events = connection.execute(
                select(alert_event_table)
                .where(alert_event_table.c.alert_id == alert_id)
                .order_by(alert_event_table.c.id)
            )
            return [
                AlertTransition(TransitionKind(e.kind), alert, e.at_ms, e.actor, e.note)
                for e in events
            ]

        return self._run("read alert history", work, write=False)

    # -- the event log, for the live stream --------------------------------------------------

    def last_event_id(self) -> int:
        """The newest transition's id (0 when there is none)."""
        query = select(func.max(alert_event_table.c.id))
        found = self._run("read the newest event", lambda c: c.execute(query).scalar(), False)
        return int(found or 0)

    def events_after(self, event_id: int, limit: int) -> list[LoggedTransition]:
        """Transitions after `event_id`, oldest first, at most `limit`.

        Ids follow commit order because one rules worker writes them all; with several
        writers a slow transaction could commit an older id after a reader passed it.
        """
        events, alerts = alert_event_table, alert_table
        query = (
            select(events, *[c.label(f"current_{c.name}") for c in alerts.c])
            .join(alerts, alerts.c.id == events.c.alert_id)
            .where(events.c.id > event_id)
            .order_by(events.c.id)
            .limit(limit)
        )

        def work(connection: Connection) -> list[LoggedTransition]:
            logged = []
            for row in connection.execute(query):
                data = row._mapping
                current = _alert({c.name: data[f"current_{c.name}"] for c in alerts.c})
                then = dataclasses.replace(
                    current, state=AlertState(data["state"]), severity=Severity(data["severity"])
                )
                transition = AlertTransition(
                    TransitionKind(data["kind"]), then, int(data["at_ms"]), data["actor"],
                    data["note"],
                )  # fmt: skip
                logged.append(LoggedTransition(int(data["id"]), transition, current))
            return logged

        return self._run("read the event log", work, write=False)

    # -- requests from people to the running rules process -----------------------------------

    def request(
        self, alert_id: int, action: AlertAction, actor: str, note: str, now_ms: int
    ) -> int:
        """Queue an acknowledge / resolve / note for the running rules process; its id."""
        row = {
            "alert_id": alert_id,
            "action": action.value,
            "actor": actor[:128],
            "note": note[:MAX_NOTE],
            "requested_at_ms": now_ms,
        }
        table = alert_request_table
        return self._run(
            "queue a request",
            lambda c: int(c.execute(insert(table).values(row).returning(table.c.id)).scalar_one()),
        )

    def pending_requests(self) -> list[AlertRequest]:
        """Requests not yet done, oldest first."""
        table = alert_request_table
        query = select(table).where(table.c.done_at_ms.is_(None)).order_by(table.c.id)
        return self._run(
            "read requests",
            lambda c: [
                AlertRequest(r.id, r.alert_id, AlertAction(r.action), r.actor, r.note)
                for r in c.execute(query)
            ],
            write=False,
        )

    def finish_request(
        self, request_id: int, outcome: ActionOutcome, detail: str, now_ms: int
    ) -> None:
        """Record what became of a request, and why when it was not done."""
        table = alert_request_table
        self._run_as_leader(
            "finish a request",
            lambda c: c.execute(
                update(table)
                .where(table.c.id == request_id)
                .values(done_at_ms=now_ms, outcome=outcome.value, result=detail[:MAX_NOTE])
            ),
        )

    def wait_for_result(
        self, request_id: int, timeout_s: float
    ) -> tuple[ActionOutcome, str] | None:
        """Poll a request until it is done or `timeout_s` has passed (then None)."""
        deadline = time.monotonic() + timeout_s
        result = self.request_result(request_id)
        while result is None and time.monotonic() < deadline:
            time.sleep(0.1)
            result = self.request_result(request_id)
        return result

    def request_result(self, request_id: int) -> tuple[ActionOutcome, str] | None:
        """The outcome of a request and its detail, None while it waits."""
        table = alert_request_table
        query = select(table.c.outcome, table.c.result).where(table.c.id == request_id)

        def work(connection: Connection) -> tuple[ActionOutcome, str] | None:
            row = connection.execute(query).first()
            if row is None or row.outcome is None:
                return None
            return ActionOutcome(row.outcome), row.result or ""

        return self._run("read a request", work, write=False)

    # -- the rule engine's saved state -----------------------------------------------------

    def save_rule_states(self, states: Iterable[tuple[str, str, object]]) -> int:
        """Upsert (rule, device, JSON-able state); None deletes. Returns rows written."""
        upserts = []
        deletes = []
        for rule_id, device_id, data in states:
            if data is None:
                deletes.append((rule_id, device_id))
            else:
                upserts.append(
                    {
                        "rule_id": rule_id,
                        "device_id": device_id,
                        "data": orjson.dumps(data).decode(),
                    }
                )
        if not upserts and not deletes:
            return 0

        def work(connection: Connection) -> int:
            table = rule_state_table
            dialect = connection.dialect.name
            make = pg_insert if dialect == "postgresql" else sqlite_insert
            for rows in in_statements(upserts):
                statement = make(table).values(rows)
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[table.c.rule_id, table.c.device_id],
                        set_={"data": statement.excluded.data},
                    )
                )
            for rule_id, device_id in deletes:
                connection.execute(
                    delete(table).where(table.c.rule_id == rule_id, table.c.device_id == device_id)
                )
            return len(upserts) + len(deletes)

        return self._run_as_leader("save rule states", work)

    def rule_states(self) -> list[tuple[str, str, object]]:
        """Every saved (rule, device, state)."""
        return self._run(
            "read rule states",
            lambda c: [
                (row.rule_id, row.device_id, orjson.loads(row.data))
                for row in c.execute(select(rule_state_table))
            ],
            write=False,
        )

    def save_judged_through(
        self, readings: Mapping[str, int], events: Mapping[str, int] | None = None
    ) -> None:
        """Record that each device's readings, and its events, up to their times have been
        judged (a time never goes back)."""
        events = events or {}
        devices = readings.keys() | events.keys()
        if not devices:
            return
        rows = [
            {"device_id": d, "ts_ms": readings.get(d, 0), "event_ts_ms": events.get(d, 0)}
            for d in sorted(devices)
        ]

        def work(connection: Connection) -> None:
            table = judged_through_table
            make = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
            # The larger of the two: SQLite's two-argument max, PostgreSQL's greatest.
            larger = func.greatest if connection.dialect.name == "postgresql" else func.max
            for chunk in in_statements(rows):
                statement = make(table).values(chunk)
                newer = {
                    column: larger(table.c[column], statement.excluded[column])
                    for column in ("ts_ms", "event_ts_ms")
                }
                connection.execute(
                    statement.on_conflict_do_update(index_elements=[table.c.device_id], set_=newer)
                )

        self._run_as_leader("save how far the rules judged", work)

    def judged_through(self) -> JudgedThrough:
        """Each device's readings and events judged so far, by time."""

        def read(connection: Connection) -> JudgedThrough:
            rows = connection.execute(select(judged_through_table)).all()
            return JudgedThrough(
                {r.device_id: int(r.ts_ms) for r in rows if r.ts_ms},
                {r.device_id: int(r.event_ts_ms) for r in rows if r.event_ts_ms},
            )

        return self._run("read how far the rules judged", read, write=False)

    def close(self) -> None:
        """Close the database connections."""
        self._engine.dispose()
