"""The audit trail in the state database: every operator's and admin's action, kept."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
)

from ioc.domain import AuditEntry, change_text
from ioc.state._db import metadata, run_in

audit_table = Table(
    "audit_entry",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("origin", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("before", Text, nullable=True),  # JSON
    Column("after", Text, nullable=True),
    Index("ix_audit_entry_at_ms", "at_ms"),
)

T = TypeVar("T")


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else change_text(value)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        row.at_ms, row.actor, row.origin, row.action, row.target,
        None if row.before is None else orjson.loads(row.before),
        None if row.after is None else orjson.loads(row.after), row.id,
    )  # fmt: skip


class AuditLog:
    """Records actions and finds them again, newest first."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _run(self, what: str, work: Callable[[Connection], T]) -> T:
        return run_in(self._engine, what, work)

    def record(self, entry: AuditEntry) -> AuditEntry:
        """Keep one action; the entry with its id."""
        kept = AuditEntry(
            entry.at_ms, entry.actor[:200], entry.origin[:200], entry.action[:64],
            entry.target[:200], entry.before, entry.after,
        )  # fmt: skip
        row = {
            "at_ms": kept.at_ms, "actor": kept.actor, "origin": kept.origin,
            "action": kept.action, "target": kept.target,
            "before": _json(kept.before), "after": _json(kept.after),
        }  # fmt: skip
        table = audit_table
        entry_id = self._run(
            "record an audit entry",
            lambda c: c.execute(insert(table).values(row).returning(table.c.id)).scalar_one(),
        )
        return dataclasses.replace(kept, id=int(entry_id))

    def find(
        self,
        since_ms: int | None = None,
        until_ms: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Entries newest first in [since, until), by whose name holds `actor` (in any case)
        and whose action starts with `action` (`alert.` for every action on alerts)."""
        table = audit_table
        query = select(table).order_by(table.c.id.desc()).limit(limit).offset(offset)
        if since_ms is not None:
            query = query.where(table.c.at_ms >= since_ms)
        if until_ms is not None:
            query = query.where(table.c.at_ms < until_ms)
        if actor:
            query = query.where(table.c.actor.icontains(actor, autoescape=True))
        if action:
            query = query.where(table.c.action.startswith(action, autoescape=True))
        return self._run("read the audit trail", lambda c: [_entry(r) for r in c.execute(query)])
