"""Heartbeats: each running stage says when it last worked, so readers can tell live from stale."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Engine, String, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ioc.domain import StageBeat
from ioc.state._db import metadata, run_in

stage_heartbeat_table = Table(
    "stage_heartbeat",
    metadata,
    Column("stage", String(32), primary_key=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("last_item_ms", BigInteger, nullable=True),
    Column("hearing", Boolean, nullable=False),
)


class HeartbeatStore:
    """Writes and reads the stages' heartbeats."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect.name
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    def beat(self, beat: StageBeat) -> None:
        """Record a stage's heartbeat (replacing its previous one)."""
        values = {
            "stage": beat.stage,
            "at_ms": beat.at_ms,
            "last_item_ms": beat.last_item_ms,
            "hearing": beat.hearing,
        }
        statement = self._insert(stage_heartbeat_table).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["stage"],
            set_={name: statement.excluded[name] for name in values if name != "stage"},
        )
        run_in(self._engine, "record a heartbeat", lambda c: c.execute(statement))

    def beats(self) -> dict[str, StageBeat]:
        """The latest heartbeat of every stage that has beaten."""
        query = select(stage_heartbeat_table)
        rows = run_in(self._engine, "read heartbeats", lambda c: list(c.execute(query)), False)
        return {
            row.stage: StageBeat(row.stage, int(row.at_ms), row.last_item_ms, bool(row.hearing))
            for row in rows
        }
