"""Reload requests: a growing number every process follows (the newest request's id)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Engine, Integer, String, Table, func, insert, select

from ioc.state._db import metadata, run_in

reload_request_table = Table(
    "reload_request",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True),
    Column("requested_at_ms", BigInteger, nullable=False),
    Column("requested_by", String(128), nullable=False),
)


class ReloadRequests:
    """Records reload requests and says which is the newest."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def request(self, now_ms: int, requested_by: str) -> int:
        """Record a request; its number (higher than every earlier one)."""
        statement = (
            insert(reload_request_table)
            .values(requested_at_ms=now_ms, requested_by=requested_by[:128])
            .returning(reload_request_table.c.id)
        )
        return run_in(
            self._engine,
            "record a reload request",
            lambda c: int(c.execute(statement).scalar_one()),
        )

    def newest(self) -> int:
        """The newest request's number; 0 before the first."""
        query = select(func.coalesce(func.max(reload_request_table.c.id), 0))
        return run_in(
            self._engine,
            "read reload requests",
            lambda c: int(c.execute(query).scalar_one()),
            False,
        )
