"""What ioc watched, as reports need it: the spells in which the rules judged devices while
hearing the broker (begun when they start or hear again, extended by every heartbeat, ended
when they go blind or stop), and when each device was first heard. Time outside a spell, or
before a device was first heard, is no data: neither up nor down."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ioc.state._db import metadata, run_in

watch_spell_table = Table(
    "watch_spell",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True),
    Column("started_at_ms", BigInteger, nullable=False),
    Column("last_at_ms", BigInteger, nullable=False),
    Index("ix_watch_spell_last_at_ms", "last_at_ms"),
)

device_heard_table = Table(
    "device_heard",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("first_at_ms", BigInteger, nullable=False),
)


class WatchLog:
    """Records and reads the watch spells and the devices' first hearing."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect.name
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    def begin(self, at_ms: int) -> int:
        """A new spell from `at_ms`; its id, to extend it."""
        statement = insert(watch_spell_table).values(started_at_ms=at_ms, last_at_ms=at_ms)

        def work(connection: Connection) -> int:
            key = connection.execute(statement).inserted_primary_key
            assert key is not None
            return int(key[0])

        return run_in(self._engine, "begin a watch spell", work)

    def extend(self, spell_id: int, at_ms: int) -> None:
        """The spell lasted until `at_ms` at least."""
        table = watch_spell_table
        statement = (
            update(table)
            .where(table.c.id == spell_id, table.c.last_at_ms < at_ms)
            .values(last_at_ms=at_ms)
        )
        run_in(self._engine, "extend a watch spell", lambda c: c.execute(statement))

    def spells(self, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """The spells that overlap [start, end), as [start, last) pairs by start."""
        table = watch_spell_table
        query = (
            select(table.c.started_at_ms, table.c.last_at_ms)
            .where(table.c.last_at_ms > start_ms, table.c.started_at_ms < end_ms)
            .order_by(table.c.started_at_ms)
        )
        rows = run_in(
            self._engine, "read the watch spells", lambda c: list(c.execute(query)), False
        )
        return [(int(row.started_at_ms), int(row.last_at_ms)) for row in rows]

    def heard(self, first_at_ms: Mapping[str, int]) -> None:
        """Devices heard for the first time (one already recorded keeps its first time)."""
        if not first_at_ms:
            return
        rows = [{"device_id": d, "first_at_ms": at} for d, at in first_at_ms.items()]
        statement = self._insert(device_heard_table).on_conflict_do_nothing(
            index_elements=["device_id"]
        )
        run_in(self._engine, "record devices first heard", lambda c: c.execute(statement, rows))

    def first_heard(self) -> dict[str, int]:
        """When each device was first heard (a device never heard is not in it)."""
        query = select(device_heard_table)
        rows = run_in(self._engine, "read when devices were first heard",
                      lambda c: list(c.execute(query)), False)  # fmt: skip
        return {str(row.device_id): int(row.first_at_ms) for row in rows}
