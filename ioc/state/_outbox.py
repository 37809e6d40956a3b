"""The notification outbox: every message recorded before it is sent, at most once per key,
with its attempts, status and last error; and the notifier's place in the alert log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row

from ioc.domain import Notification, NotificationKind, NotificationStatus, PlannedNotification
from ioc.state._db import Guard, metadata, run_in

_Id = Integer().with_variant(BigInteger(), "postgresql")

notification_table = Table(
    "notification",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("alert_id", _Id, nullable=True, index=True),
    Column("person_id", String(64), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("via", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("due_ms", BigInteger, nullable=False, index=True),
    Column("sent_at_ms", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("body", Text, nullable=True),
)

notifier_cursor_table = Table(
    "notifier_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("event_id", BigInteger, nullable=False),
)

_MAX_ERROR = 1000
T = TypeVar("T")


class Outbox:
    """Records, hands out and settles notifications.

    On a cluster the leader's notifier passes `leader_guard`: recording plans (and its place
    in the log), claiming one to send and resuming interrupted ones are refused once the node
    no longer leads with its term, so a stale leader neither plans nor starts a send. Settling
    an attempt is not guarded: what was sent is recorded whoever sent it."""

    def __init__(self, engine: Engine, leader_guard: Guard | None = None) -> None:
        self._engine = engine
        self._leader_guard = leader_guard
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    def cursor(self) -> int | None:
        """The last alert-log event the notifier has planned from (None: never ran)."""
        query = select(notifier_cursor_table.c.event_id).where(
            notifier_cursor_table.c.name == "alerts"
        )
        found = self._read("read the notifier's place", lambda c: c.execute(query).scalar())
        return None if found is None else int(found)

    def record(
        self, planned: Sequence[PlannedNotification], now_ms: int, cursor: int | None = None
    ) -> int:
        """Record notifications (a key seen before is skipped) and, in the same transaction,
        the log position they were planned up to; how many were new."""

        def work(connection: Connection) -> int:
            added = 0
            for item in planned:
                statement = (
                    self._insert(notification_table)
                    .values(
                        key=item.key[:255],
                        kind=item.kind.value,
                        alert_id=item.alert_id,
                        person_id=item.person_id,
                        channel=item.channel,
                        via=item.via,
                        status=NotificationStatus.QUEUED.value,
                        attempts=0,
                        created_at_ms=now_ms,
                        due_ms=item.due_ms,
                    )
                    .on_conflict_do_nothing(index_elements=["key"])
                    .returning(notification_table.c.id)
                )
                added += len(connection.execute(statement).all())
            if cursor is not None:
                upsert = self._insert(notifier_cursor_table).values(name="alerts", event_id=cursor)
                connection.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["name"], set_={"event_id": upsert.excluded.event_id}
                    )
                )
            return added

        return self._write("record notifications", work, guarded=True)

    def due(self, now_ms: int, limit: int = 100) -> list[Notification]:
        """Queued notifications whose time has come, oldest first."""
        table = notification_table
        query = (
            select(table)
            .where(table.c.status == NotificationStatus.QUEUED.value, table.c.due_ms <= now_ms)
            .order_by(table.c.due_ms, table.c.id)
            .limit(limit)
        )
        return self._rows("read due notifications", query)

    def begin_attempt(self, notification_id: int) -> bool:
        """Claim a queued notification for an attempt; False if another sender has it (a crash
        after this leaves it `sending`, tried again at the next start)."""
        table = notification_table
        statement = (
            update(table)
            .where(table.c.id == notification_id, table.c.status == NotificationStatus.QUEUED.value)
            .values(status=NotificationStatus.SENDING.value, attempts=table.c.attempts + 1)
        )
        claimed = self._write(
            "claim a notification", lambda c: c.execute(statement).rowcount, guarded=True
        )
        return bool(claimed)

    def settle(
        self,
        notification_id: int,
        status: NotificationStatus,
        now_ms: int,
        error: str | None = None,
        retry_at_ms: int | None = None,
        body: str | None = None,
    ) -> None:
        """Record how an attempt ended: sent, held, failed, or queued again for `retry_at_ms`."""
        values: dict[str, object] = {"status": status.value, "last_error": (error or None)}
        if error:
            values["last_error"] = error[:_MAX_ERROR]
        if retry_at_ms is not None:
            values["due_ms"] = retry_at_ms
        if status is NotificationStatus.SENT:
            values["sent_at_ms"] = now_ms
        if body is not None:
            values["body"] = body
        self._set(notification_id, **values)

    def resume_interrupted(self) -> int:
        """Queue again what a crash left `sending`; how many."""
        table = notification_table
        statement = (
            update(table)
            .where(table.c.status == NotificationStatus.SENDING.value)
            .values(status=NotificationStatus.QUEUED.value)
        )
        resumed = self._write(
            "resume notifications", lambda c: c.execute(statement).rowcount, guarded=True
        )
        return int(resumed)

    def sent_since(self, person_id: str, since_ms: int) -> int:
        """Messages a person got since a moment (for the rate limit)."""
        table = notification_table
        query = select(func.count()).where(
            table.c.person_id == person_id,
            table.c.status == NotificationStatus.SENT.value,
            table.c.sent_at_ms >= since_ms,
            table.c.kind != NotificationKind.SUMMARY.value,
        )
        return int(self._read("count notifications", lambda c: c.execute(query).scalar_one()))

    def was_told(self, alert_id: int, person_id: str) -> bool:
        """Whether a person was sent anything about an alert."""
        table = notification_table
        query = (
            select(table.c.id)
            .where(
                table.c.alert_id == alert_id,
                table.c.person_id == person_id,
                table.c.status == NotificationStatus.SENT.value,
            )
            .limit(1)
        )
        return self._read("check notifications", lambda c: c.execute(query).first() is not None)

    def being_told(self, alert_id: int, person_id: str) -> bool:
        """Whether something about an alert is on its way to a person: an attempt under way,
        or one made and to be tried again (it may have reached them already)."""
        table = notification_table
        on_its_way = (table.c.status == NotificationStatus.SENDING.value) | (
            (table.c.status == NotificationStatus.QUEUED.value) & (table.c.attempts > 0)
        )
        query = (
            select(table.c.id)
            .where(table.c.alert_id == alert_id, table.c.person_id == person_id, on_its_way)
            .limit(1)
        )
        return self._read("check notifications", lambda c: c.execute(query).first() is not None)

    def held_between(self, person_id: str, start_ms: int, end_ms: int) -> list[Notification]:
        """What the rate limit held back for a person in a period."""
        table = notification_table
        query = (
            select(table)
            .where(
                table.c.person_id == person_id,
                table.c.status == NotificationStatus.HELD.value,
                table.c.due_ms >= start_ms,
                table.c.due_ms < end_ms,
            )
            .order_by(table.c.id)
        )
        return self._rows("read held notifications", query)

    def listing(
        self, statuses: Sequence[NotificationStatus] = (), limit: int = 100
    ) -> list[Notification]:
        """Notifications newest first, by status."""
        table = notification_table
        query = select(table).order_by(table.c.id.desc()).limit(limit)
        if statuses:
            query = query.where(table.c.status.in_([s.value for s in statuses]))
        return self._rows("list notifications", query)

    def _set(self, notification_id: int, **values: object) -> None:
        statement = (
            update(notification_table)
            .where(notification_table.c.id == notification_id)
            .values(**values)
        )
        self._write("update a notification", lambda c: c.execute(statement))

    def _rows(self, what: str, query: Select[Any]) -> list[Notification]:
        return self._read(what, lambda c: [_notification(row) for row in c.execute(query)])

    def _read(self, what: str, work: Callable[[Connection], T]) -> T:
        return run_in(self._engine, what, work, write=False)

    def _write(self, what: str, work: Callable[[Connection], T], guarded: bool = False) -> T:
        return run_in(self._engine, what, work, guard=self._leader_guard if guarded else None)


def _notification(row: Row[object]) -> Notification:
    data = row._mapping
    return Notification(
        id=int(data["id"]),
        key=data["key"],
        kind=NotificationKind(data["kind"]),
        alert_id=data["alert_id"],
        person_id=data["person_id"],
        channel=data["channel"],
        via=data["via"],
        status=NotificationStatus(data["status"]),
        attempts=int(data["attempts"]),
        created_at_ms=int(data["created_at_ms"]),
        due_ms=int(data["due_ms"]),
        sent_at_ms=data["sent_at_ms"],
        last_error=data["last_error"],
        body=data["body"],
    )
