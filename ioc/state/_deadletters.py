"""The dead-letter log: rejected messages with reason and raw payload, capped in size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from ioc.domain import Rejection
from ioc.state._db import metadata, state_error

dead_letter_table = Table(
    "dead_letter",
    metadata,
    Column(
        "id",
        Integer().with_variant(BigInteger(), "postgresql"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("received_ms", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False, index=True),
    Column("detail", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
)

_MAX_KEPT_PAYLOAD = 65536


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One stored rejection."""

    id: int
    received_ms: int
    reason: str
    detail: str
    topic: str
    payload: bytes


class DeadLetterLog:
    """Appends rejections and trims the oldest beyond a limit."""

    def __init__(self, engine: Engine, limit: int) -> None:
        self._engine = engine
        self._limit = limit

    def record(self, rejections: Sequence[Rejection]) -> None:
        """Store a batch of rejections (payloads beyond 64 KiB are cut) and trim the log."""
        if not rejections:
            return
        rows = [
            {
                "received_ms": r.received_ms,
                "reason": r.reason.value,
                "detail": r.detail[:2000],
                # Postgres text cannot hold NUL; topics come off the wire, so keep them safe.
                "topic": r.topic[:1024].replace("\x00", "\\x00"),
                "payload": r.payload[:_MAX_KEPT_PAYLOAD],
            }
            for r in rejections
        ]
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(dead_letter_table), rows)
                newest = connection.execute(select(func.max(dead_letter_table.c.id))).scalar_one()
                connection.execute(
                    delete(dead_letter_table).where(dead_letter_table.c.id <= newest - self._limit)
                )
        except SQLAlchemyError as exc:
            raise state_error("cannot record dead letters", exc) from exc

    def recent(self, limit: int = 100, reason: str | None = None) -> list[DeadLetter]:
        """The newest dead letters first, optionally of one reason."""
        query = select(dead_letter_table).order_by(dead_letter_table.c.id.desc()).limit(limit)
        if reason is not None:
            query = query.where(dead_letter_table.c.reason == reason)
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as exc:
            raise state_error("cannot read dead letters", exc) from exc
        return [DeadLetter(*row) for row in rows]

    def close(self) -> None:
        """Close the database connections."""
        self._engine.dispose()

    def count(self) -> int:
        """How many dead letters are kept."""
        with self._engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(dead_letter_table)).scalar_one()
            )
