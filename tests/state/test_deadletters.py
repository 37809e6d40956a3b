"""The dead-letter log on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ioc.domain import Rejection, RejectReason
from ioc.state import DeadLetterLog, connect_state


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url = str(request.getfixturevalue("postgres_url"))
    engine = connect_state(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM dead_letter"))
    engine.dispose()
    return url


@pytest.fixture
def open_log(state_url: str) -> Iterator[Callable[[int], DeadLetterLog]]:
    logs: list[DeadLetterLog] = []

    def make(limit: int) -> DeadLetterLog:
        logs.append(DeadLetterLog(connect_state(state_url), limit))
        return logs[-1]

    yield make
    for log in logs:
        log.close()


def _rejection(index: int, payload: bytes = b"{bad") -> Rejection:
    return Rejection(
        RejectReason.BAD_JSON,
        f"not JSON #{index}",
        f"ioc/bts/b{index}/telemetry",
        payload,
        1_790_000_000_000 + index,
    )


def test_records_newest_first_and_trims_to_the_limit(
    open_log: Callable[[int], DeadLetterLog],
) -> None:
    log = open_log(10)
    log.record([_rejection(i) for i in range(7)])
    log.record([_rejection(i) for i in range(7, 25)])
    assert log.count() == 10
    recent = log.recent(3)
    assert [letter.detail for letter in recent] == ["not JSON #24", "not JSON #23", "not JSON #22"]
    assert recent[0].payload == b"{bad" and recent[0].reason == "bad_json"


def test_hostile_bytes_are_kept_raw(open_log: Callable[[int], DeadLetterLog]) -> None:
    log = open_log(100)
    nasty = b"\x00\xff'); DROP TABLE dead_letter; --\n" + b"x" * 70_000
    log.record([Rejection(RejectReason.TOO_LARGE, "big", "ioc/\x00/topic", nasty, 1)])
    letter = log.recent(1, reason="too_large")[0]
    assert letter.payload == nasty[:65536]
    assert letter.topic == "ioc/\\x00/topic"
    assert log.recent(5, reason="bad_json") == []


def test_migrations_match_the_table_definitions(state_url: str) -> None:
    """The alembic history builds exactly the schema the code declares (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ioc.state._db import metadata

    engine = connect_state(state_url)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == "0001"
        connect_state(state_url).dispose()  # a second start migrates nothing and fails nothing
    finally:
        engine.dispose()
