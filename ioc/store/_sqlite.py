"""The embedded telemetry store: one SQLite file, used when no InfluxDB is configured."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from ioc.domain import (
    Aggregate,
    DeviceEvent,
    LatestValues,
    MetricSummary,
    MetricValue,
    Reading,
    SeriesPoint,
    StatusChange,
    TelemetryItem,
)
from ioc.store._errors import StoreUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reading (
    device_class TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    metric TEXT NOT NULL,
    num REAL,
    flag INTEGER,
    txt TEXT,
    registered INTEGER NOT NULL,
    ts_adjusted INTEGER NOT NULL,
    PRIMARY KEY (device_class, device_id, metric, ts_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event (
    device_class TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (device_id, type, ts_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status (
    device_class TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    online INTEGER NOT NULL,
    PRIMARY KEY (device_id, ts_ms)
) WITHOUT ROWID;
"""

# Same key, same time: the newer write replaces the older, as in InfluxDB.
_INSERT_READING = "INSERT OR REPLACE INTO reading VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_EVENT = "INSERT OR REPLACE INTO event VALUES (?, ?, ?, ?, ?)"
_INSERT_STATUS = "INSERT OR REPLACE INTO status VALUES (?, ?, ?, ?)"
_MOST_VARIABLES = 16_000  # devices asked by name in one query (SQLite allows 32,766 variables)
_SQL_AGGREGATES = {Aggregate.MEAN: "AVG", Aggregate.MIN: "MIN", Aggregate.MAX: "MAX"}


def _columns(value: MetricValue) -> tuple[float | None, int | None, str | None]:
    if isinstance(value, bool):
        return None, int(value), None
    if isinstance(value, float):
        return value, None, None
    return None, None, value


def _value(num: float | None, flag: int | None, txt: str | None) -> MetricValue:
    if num is not None:
        return num
    if flag is not None:
        return bool(flag)
    return txt if txt is not None else ""


class SqliteStore:
    """Telemetry in a SQLite file (WAL mode), safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the SQLite store {path}: {exc}") from exc
        self.path = path

    def write(self, items: Sequence[TelemetryItem]) -> None:
        """Store a batch in one transaction."""
        readings, events, statuses = [], [], []
        for item in items:
            if type(item) is Reading:
                flags = (int(item.registered), int(item.ts_adjusted))
                for metric, value in item.metrics.items():
                    readings.append(
                        (
                            item.device_class,
                            item.device_id,
                            item.ts_ms,
                            metric,
                            *_columns(value),
                            *flags,
                        )
                    )
            elif type(item) is DeviceEvent:
                events.append(
                    (item.device_class, item.device_id, item.ts_ms, item.type, item.data_json)
                )
            elif type(item) is StatusChange:
                statuses.append((item.device_class, item.device_id, item.ts_ms, int(item.online)))
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.executemany(_INSERT_READING, readings)
                self._db.executemany(_INSERT_EVENT, events)
                self._db.executemany(_INSERT_STATUS, statuses)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StoreUnavailable(f"SQLite write failed: {exc}") from exc

    def latest(
        self, device_class: str, device_ids: Sequence[str] | None = None
    ) -> list[LatestValues]:
        """The newest reading (all metrics at that time) of each device of a class (of those
        devices only, when given: the key's order then reads only their rows)."""
        wanted = set(device_ids) if device_ids is not None else None
        only, args = "", [device_class, device_class]
        if wanted is not None and len(wanted) <= _MOST_VARIABLES:
            named = sorted(wanted)
            only = f"AND device_id IN ({', '.join('?' * len(named))})"
            args = [device_class, *named, device_class, *named]
        query = f"""
            SELECT r.device_id, r.ts_ms, r.metric, r.num, r.flag, r.txt
            FROM reading r JOIN (
                SELECT device_id, MAX(ts_ms) AS ts_ms FROM reading
                WHERE device_class = ? {only} GROUP BY device_id
            ) newest ON r.device_id = newest.device_id AND r.ts_ms = newest.ts_ms
            WHERE r.device_class = ? {only.replace("device_id", "r.device_id")}
        """
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        by_device: dict[str, LatestValues] = {}
        for device_id, ts_ms, metric, num, flag, txt in rows:
            if wanted is not None and device_id not in wanted:
                continue
            entry = by_device.setdefault(device_id, LatestValues(device_id, ts_ms, {}))
            entry.metrics[metric] = _value(num, flag, txt)
        return list(by_device.values())

    def series(
        self,
        device_class: str,
        device_id: str,
        metric: str,
        start_ms: int,
        end_ms: int,
        step_s: int,
        aggregate: Aggregate,
    ) -> list[SeriesPoint]:
        """One metric downsampled into steps aligned to the epoch, as InfluxDB does."""
        step_ms = int(step_s) * 1000
        where = "device_class = ? AND device_id = ? AND metric = ? AND ts_ms >= ? AND ts_ms < ?"
        args: tuple[object, ...] = (
            step_ms,
            step_ms,
            device_class,
            device_id,
            metric,
            start_ms,
            end_ms,
        )
        if aggregate is Aggregate.LAST:
            args = (step_ms, *args)
            query = f"""
                SELECT bucket, num, flag, txt FROM (
                    SELECT (ts_ms / ?) * ? AS bucket, num, flag, txt,
                           ROW_NUMBER() OVER (PARTITION BY ts_ms / ? ORDER BY ts_ms DESC) AS rn
                    FROM reading WHERE {where}
                ) WHERE rn = 1 ORDER BY bucket
            """
        else:
            function = _SQL_AGGREGATES[aggregate]
            query = f"""
                SELECT (ts_ms / ?) * ? AS bucket, {function}(COALESCE(num, flag)), NULL, NULL
                FROM reading WHERE {where} GROUP BY bucket ORDER BY bucket
            """
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [SeriesPoint(bucket, _value(num, flag, txt)) for bucket, num, flag, txt in rows]

    def summaries(
        self, device_class: str, metric: str, start_ms: int, end_ms: int
    ) -> dict[str, MetricSummary]:
        """Count, mean, min and max of the metric's numbers, per device."""
        query = """
            SELECT device_id, COUNT(num), AVG(num), MIN(num), MAX(num) FROM reading
            WHERE device_class = ? AND metric = ? AND ts_ms >= ? AND ts_ms < ?
                AND num IS NOT NULL
            GROUP BY device_id
        """
        with self._lock:
            rows = self._db.execute(query, (device_class, metric, start_ms, end_ms)).fetchall()
        return {
            device_id: MetricSummary(count, mean, minimum, maximum)
            for device_id, count, mean, minimum, maximum in rows
        }

    def ping(self) -> None:
        """Raise StoreUnavailable unless the file answers a query."""
        with self._lock:
            try:
                self._db.execute("SELECT 1").fetchone()
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"SQLite store failed: {exc}") from exc

    def count(self, device_class: str) -> int:
        """Readings of a class (distinct device and time)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM (SELECT DISTINCT device_id, ts_ms FROM reading "
                "WHERE device_class = ?)",
                (device_class,),
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
