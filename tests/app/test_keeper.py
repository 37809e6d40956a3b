"""The leader keeps what the ingest group may miss: for a while after its session connects,
and while this node's ingest is not subscribed; into a real (SQLite) telemetry store."""

from __future__ import annotations

from pathlib import Path

from ioc.app._keeper import GapKeeper
from ioc.domain import Reading
from ioc.store import SqliteStore


def test_it_keeps_after_each_connection_and_while_ingest_is_away(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "telemetry.db")
    now = [0.0]
    subscribed = [True]
    keeper = GapKeeper(store, lambda: subscribed[0], keep_s=30, clock=lambda: now[0])
    try:
        assert keeper.keeping(1)  # just connected
        now[0] = 31
        assert not keeper.keeping(1)
        assert keeper.keeping(2)  # connected again (a broker restart): 30 s more
        now[0] = 62
        assert not keeper.keeping(2)
        subscribed[0] = False  # this node's ingest lost its subscription
        assert keeper.keeping(2)
        keeper.keep([Reading("bts", "bts1", 1_000, {"battery_v": 53.9})])
        keeper.keep([Reading("bts", "bts1", 1_000, {"battery_v": 53.9})])  # the same point again
        assert keeper.kept == 2 and store.count("bts") == 1
    finally:
        store.close()
