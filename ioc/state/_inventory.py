"""The live inventory's versions: numbered 1, 2, 3... each with who recorded it, when, why and
the changes it made; the whole document now and then (a version is the snapshot at or before
it with the changes after it applied, by the caller: this store keeps JSON, it does not know
what an inventory is).

Two writers recording on the same base: the second is told (`StaleVersion`) and starts again
from the newest, so no change is recorded over one it has not seen.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from ioc.domain import Conflict, InventoryVersion
from ioc.state._db import StateRefused, metadata, run_in

inventory_version_table = Table(
    "inventory_version",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("recorded_at_ms", BigInteger, nullable=False),
    Column("effective_at_ms", BigInteger, nullable=False),
    Column("recorded_by", String(128), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("summary", String(200), nullable=False),
    Column("file_digest", String(64), nullable=True),
    Column("changes", LargeBinary, nullable=False),
    Column("snapshot", LargeBinary, nullable=True),
)

_T = inventory_version_table
_INFO = (
    _T.c.number, _T.c.recorded_at_ms, _T.c.effective_at_ms, _T.c.recorded_by, _T.c.origin,
    _T.c.reason, _T.c.summary, _T.c.file_digest,
)  # fmt: skip

Json = Any


class StaleVersion(Conflict):
    """Another version was recorded since the one a change was made on."""


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What a writer records (its number is the base's next)."""

    recorded_at_ms: int
    effective_at_ms: int
    recorded_by: str
    origin: str
    reason: str
    summary: str
    changes: list[Json]
    snapshot: Json | None = None  # the whole document, when worth keeping
    file_digest: str | None = None


def _pack(value: Json) -> bytes:
    return zlib.compress(orjson.dumps(value), 3)


def _unpack(blob: bytes) -> Json:
    return orjson.loads(zlib.decompress(blob))


class InventoryVersions:
    """Records inventory versions and reads them back."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _read(self, what: str, work: Callable[[Connection], Any]) -> Any:
        return run_in(self._engine, what, work, False)

    def newest(self) -> InventoryVersion | None:
        """The newest version; None before the first."""
        query = select(*_INFO).order_by(_T.c.number.desc()).limit(1)
        row = self._read("read the inventory version", lambda c: c.execute(query).first())
        return None if row is None else InventoryVersion(*row)

    def newest_number(self) -> int:
        """The newest version's number; 0 before the first (cheap: followers ask every second)."""
        query = select(func.coalesce(func.max(_T.c.number), 0))
        return int(self._read("read the inventory version", lambda c: c.execute(query).scalar()))

    def newest_from_file(self) -> InventoryVersion | None:
        """The newest version recorded from a whole file (at a start, or loaded)."""
        query = (
            select(*_INFO)
            .where(_T.c.file_digest.is_not(None))
            .order_by(_T.c.number.desc())
            .limit(1)
        )
        row = self._read("read the inventory version", lambda c: c.execute(query).first())
        return None if row is None else InventoryVersion(*row)

    def version(self, number: int) -> InventoryVersion | None:
        """Version `number`'s record."""
        query = select(*_INFO).where(_T.c.number == number)
        row = self._read("read the inventory version", lambda c: c.execute(query).first())
        return None if row is None else InventoryVersion(*row)

    def history(self, limit: int, before: int | None = None) -> list[InventoryVersion]:
        """The newest `limit` versions (below `before`), newest first."""
        query = select(*_INFO).order_by(_T.c.number.desc()).limit(limit)
        if before is not None:
            query = query.where(_T.c.number < before)
        rows = self._read("read the inventory history", lambda c: c.execute(query).all())
        return [InventoryVersion(*row) for row in rows]

    def effective_at(self, at_ms: int) -> int:
        """The newest version in effect at `at_ms` (0 when none was)."""
        query = select(func.coalesce(func.max(_T.c.number), 0)).where(_T.c.effective_at_ms <= at_ms)
        return int(self._read("read the inventory version", lambda c: c.execute(query).scalar()))

    def changes(self, number: int) -> list[Json]:
        """What version `number` changed."""
        query = select(_T.c.changes).where(_T.c.number == number)
        blob = self._read("read inventory changes", lambda c: c.execute(query).scalar())
        return [] if blob is None else list(_unpack(blob))

    def parts(self, number: int) -> tuple[Json, list[list[Json]]]:
        """The document of the newest snapshot at or before `number`, and the changes of each
        version after it up to `number`, in order; LookupError when there is no such version."""

        def work(connection: Connection) -> tuple[Json, list[list[Json]]]:
            base = connection.execute(
                select(_T.c.number, _T.c.snapshot)
                .where(_T.c.number <= number, _T.c.snapshot.is_not(None))
                .order_by(_T.c.number.desc())
                .limit(1)
            ).first()
            if base is None:
                raise LookupError(f"no inventory version {number}")
            later = connection.execute(
                select(_T.c.changes)
                .where(_T.c.number > base.number, _T.c.number <= number)
                .order_by(_T.c.number)
            ).scalars()
            return _unpack(base.snapshot), [list(_unpack(blob)) for blob in later]

        parts: tuple[Json, list[list[Json]]] = self._read("read an inventory version", work)
        return parts

    def since_snapshot(self, number: int) -> int:
        """How many versions up to `number` came after its snapshot."""
        query = select(func.coalesce(func.max(_T.c.number), 0)).where(
            _T.c.number <= number, _T.c.snapshot.is_not(None)
        )
        found = self._read("read the inventory version", lambda c: c.execute(query).scalar())
        return number - int(found)

    def record(self, base: int, new: NewVersion) -> InventoryVersion:
        """Record `new` as version `base + 1`; StaleVersion when `base` is no longer the newest
        (nothing is recorded). The first version must carry its snapshot."""
        if base == 0 and new.snapshot is None:
            raise ValueError("the first inventory version is a whole document")
        number = base + 1
        values = {
            "number": number,
            "recorded_at_ms": new.recorded_at_ms,
            "effective_at_ms": new.effective_at_ms,
            "recorded_by": new.recorded_by[:128],
            "origin": new.origin,
            "reason": new.reason[:500],
            "summary": new.summary[:200],
            "file_digest": new.file_digest,
            "changes": _pack(new.changes),
            "snapshot": None if new.snapshot is None else _pack(new.snapshot),
        }

        def work(connection: Connection) -> None:
            newest = connection.execute(select(func.coalesce(func.max(_T.c.number), 0))).scalar()
            if newest != base:
                raise StaleVersion(f"inventory version {newest} was recorded meanwhile")
            connection.execute(insert(_T).values(values))

        try:
            run_in(self._engine, "record an inventory version", work)
        except StateRefused as exc:
            if isinstance(exc.__cause__, IntegrityError):  # the same number, at the same time
                raise StaleVersion(f"inventory version {number} was recorded meanwhile") from exc
            raise
        return InventoryVersion(
            number, new.recorded_at_ms, new.effective_at_ms, new.recorded_by[:128], new.origin,
            new.reason[:500], new.summary[:200], new.file_digest,
        )  # fmt: skip
