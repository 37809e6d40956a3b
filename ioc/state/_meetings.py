"""Meetings in the state database: planned from the CLI, the API or the wall, read by the rules
(readiness alerts), the wall (the readiness board) and reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from ioc.domain import Meeting
from ioc.state._db import metadata, run_in

meeting_table = Table(
    "meeting",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("starts_at_ms", BigInteger, nullable=False, index=True),
    Column("ends_at_ms", BigInteger, nullable=False),
    Column("points", Text, nullable=False),  # a JSON list of device ids
    Column("scope", String(200), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("cancelled_at_ms", BigInteger, nullable=True),
)

T = TypeVar("T")


class MeetingStore:
    """Plans, lists and cancels meetings."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, meeting: Meeting) -> Meeting:
        """Record a meeting; return it with its id."""
        row = {
            "title": meeting.title[:200], "starts_at_ms": meeting.starts_at_ms,
            "ends_at_ms": meeting.ends_at_ms, "points": orjson.dumps(list(meeting.points)).decode(),
            "scope": meeting.scope[:200], "created_by": meeting.created_by[:128],
        }  # fmt: skip

        def work(connection: Connection) -> int:
            statement = insert(meeting_table).values(row).returning(meeting_table.c.id)
            return int(connection.execute(statement).scalar_one())

        new_id = run_in(self._engine, "plan a meeting", work)
        return Meeting(
            new_id, meeting.title[:200], meeting.starts_at_ms, meeting.ends_at_ms,
            meeting.points, meeting.scope[:200], meeting.created_by[:128],
        )  # fmt: skip

    def get(self, meeting_id: int) -> Meeting | None:
        """One meeting, or None."""
        query = select(meeting_table).where(meeting_table.c.id == meeting_id)
        found = self._read("read a meeting", lambda c: c.execute(query).first())
        return None if found is None else _meeting(found)

    def between(self, start_ms: int, end_ms: int) -> list[Meeting]:
        """Meetings not cancelled that overlap [start, end), by start."""
        table = meeting_table
        query = (
            select(table)
            .where(
                table.c.cancelled_at_ms.is_(None),
                table.c.starts_at_ms < end_ms,
                table.c.ends_at_ms > start_ms,
            )
            .order_by(table.c.starts_at_ms, table.c.id)
        )
        return self._read("read meetings", lambda c: [_meeting(r) for r in c.execute(query)])

    def cancel(self, meeting_id: int, now_ms: int) -> bool:
        """Cancel a meeting; False if there is no such meeting or it was cancelled already."""
        table = meeting_table
        statement = (
            update(table)
            .where(table.c.id == meeting_id, table.c.cancelled_at_ms.is_(None))
            .values(cancelled_at_ms=now_ms)
        )
        done = run_in(self._engine, "cancel a meeting", lambda c: c.execute(statement).rowcount)
        return bool(done)

    def _read(self, what: str, work: Callable[[Connection], T]) -> T:
        return run_in(self._engine, what, work, write=False)


def _meeting(row: Any) -> Meeting:
    return Meeting(
        int(row.id), str(row.title), int(row.starts_at_ms), int(row.ends_at_ms),
        tuple(orjson.loads(row.points)), str(row.scope), str(row.created_by),
        None if row.cancelled_at_ms is None else int(row.cancelled_at_ms),
    )  # fmt: skip
