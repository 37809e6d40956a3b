"""A collector's outbox on disk: every message waits here until the broker has acknowledged it.

A SQLite file (WAL, synchronous=NORMAL: a power cut may cost the last moments, never the file).
First in, first out, so readings reach the broker in the order they were taken. It is bounded:
when full, the oldest readings make room and are counted as dropped; a site cut off for days
keeps the most recent `max_readings`.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message waiting for the broker."""

    id: int
    topic: str
    payload: bytes


class DiskBuffer:
    """A bounded FIFO of MQTT messages in a SQLite file (":memory:" for a throwaway one)."""

    def __init__(self, path: Path | str, max_messages: int) -> None:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self.max_messages = max_messages
        self.dropped = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL)"
        )
        self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        self.has_messages = threading.Event()
        if self._count:
            self.has_messages.set()

    def __len__(self) -> int:
        return self._count

    def append(self, topic: str, payload: bytes) -> None:
        """Keep a message; if full, drop the oldest to make room (counted)."""
        with self._lock:
            over = self._count + 1 - self.max_messages
            if over > 0:
                self._db.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                    (over,),
                )
                self.dropped += over
                self._count -= over
            self._db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)", (topic, payload))
            self._count += 1
            self.has_messages.set()

    def oldest(self, limit: int) -> list[Outgoing]:
        """Up to `limit` messages, oldest first, without removing them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [Outgoing(int(row[0]), str(row[1]), bytes(row[2])) for row in rows]

    def remove_through(self, message_id: int) -> None:
        """Forget every message up to and including this id (the broker has them)."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM outbox WHERE id <= ?", (message_id,))
            self._count -= cursor.rowcount
            if not self._count:
                self.has_messages.clear()

    def close(self) -> None:
        """Close the file; what is in it stays for the next start."""
        with self._lock:
            self._db.close()
