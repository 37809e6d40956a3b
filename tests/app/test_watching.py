"""The watch spells against a real SQLite state database: a beat so late that the process
must have been frozen ends the spell at its last beat; a write the database fails loses
nothing heard."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from ioc.app._watching import MAX_BEAT_GAP_S, Watching
from ioc.state import WatchLog, connect_state


def test_a_frozen_process_does_not_count_its_freeze_as_watched(tmp_path: Path) -> None:
    log = WatchLog(connect_state(f"sqlite:///{tmp_path / 'state.db'}"))
    monotonic = [0.0]
    watching = Watching(log, monotonic=lambda: monotonic[0])
    watching.start()
    watching.beat(1_000, hearing=True)
    monotonic[0] = 5.0
    watching.beat(6_000, hearing=True)
    monotonic[0] = 5.0 + MAX_BEAT_GAP_S + 30  # frozen (SIGSTOP, a suspended VM) meanwhile
    watching.beat(96_000, hearing=True)
    monotonic[0] += 5
    watching.end(101_000)
    assert log.spells(0, 200_000) == [(1_000, 6_000), (96_000, 101_000)]


def test_devices_heard_while_the_database_fails_are_written_later(tmp_path: Path) -> None:
    engine = connect_state(f"sqlite:///{tmp_path / 'state.db'}")
    log = WatchLog(engine)
    watching = Watching(log)
    watching.start()
    watching.heard("gw1", 1_000)
    with engine.begin() as connection:  # the table is away: every write to it fails for now
        connection.execute(text("ALTER TABLE device_heard RENAME TO device_heard_away"))
    watching.beat(2_000, hearing=True)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE device_heard_away RENAME TO device_heard"))
    assert log.first_heard() == {}
    watching.heard("gw1", 3_000)  # heard again: the first hearing stays the one to record
    watching.beat(4_000, hearing=True)
    assert log.first_heard() == {"gw1": 1_000}
    assert log.spells(0, 10_000) == [(2_000, 4_000)]
