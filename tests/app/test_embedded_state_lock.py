"""One `ioc run` per embedded state database: a second is refused, saying who holds it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ioc.app._cluster import EmbeddedStateLock
from ioc.app._supervisor import ServiceError


def test_a_second_process_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'state.db'}"
    first = EmbeddedStateLock(url)
    first.start()
    # flock locks belong to an open file: a second opening conflicts even in one process.
    with pytest.raises(ServiceError) as refused:
        EmbeddedStateLock(url).start()
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message and "PostgreSQL" in message
    assert str(tmp_path / "data" / "state.db") in message
    first.stop()
    again = EmbeddedStateLock(url)  # let go: the next one starts
    again.start()
    again.stop()
    other = EmbeddedStateLock(f"sqlite:///{tmp_path / 'other.db'}")  # another file, no conflict
    other.start()
    other.stop()


def test_an_in_memory_database_needs_no_lock() -> None:
    lock = EmbeddedStateLock("sqlite://")
    lock.start()
    EmbeddedStateLock("sqlite://").start()
    lock.stop()
