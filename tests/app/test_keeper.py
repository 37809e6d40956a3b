"""The leader keeps what the ingest group may miss: for a while after its session connects,
and while this node's ingest is not subscribed; into a real (SQLite) telemetry store, on a
thread of its own, so that a store that hangs never holds up the rules' intake; and a message
it keeps is acknowledged only once the rules judged it and the keeper stored it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from ioc.app._keeper import GapKeeper, JointAcks
from ioc.domain import Reading, TelemetryItem
from ioc.store import SqliteStore, StoreError
from tests.support.mqtt import wait_until

POINT = Reading("bts", "bts1", 1_000, {"battery_v": 53.9})


def test_it_keeps_after_each_connection_and_while_ingest_is_away(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "telemetry.db")
    now = [0.0]
    subscribed = [True]
    keeper = GapKeeper(store, lambda: subscribed[0], keep_s=30, clock=lambda: now[0])
    keeper.start()
    stored: list[str] = []
    try:
        assert keeper.keeping(1)  # just connected
        now[0] = 31
        assert not keeper.keeping(1)
        assert keeper.keeping(2)  # connected again (a broker restart): 30 s more
        now[0] = 62
        assert not keeper.keeping(2)
        subscribed[0] = False  # this node's ingest lost its subscription
        assert keeper.keeping(2)
        assert keeper.keep([POINT], lambda: stored.append("first"))
        assert keeper.keep([POINT], lambda: stored.append("again"))  # the same point again
        wait_until(lambda: len(stored) == 2, 10, "both stored")
        assert stored == ["first", "again"] and keeper.kept == 2 and store.count("bts") == 1
    finally:
        keeper.stop()
        store.close()


class HangingStore:
    """A telemetry store that hangs until let go, then fails once, then takes everything."""

    def __init__(self) -> None:
        self.let_go = threading.Event()
        self.written: list[TelemetryItem] = []
        self._failed = False

    def write(self, items: Sequence[TelemetryItem]) -> None:
        self.let_go.wait(10)
        if not self._failed:
            self._failed = True
            raise StoreError("influxd does not answer")
        self.written += items


def test_a_hanging_store_never_holds_up_the_caller_and_nothing_is_given_up() -> None:
    store = HangingStore()
    keeper = GapKeeper(store, lambda: True, max_waiting=2)  # type: ignore[arg-type]
    keeper.start()
    stored: list[int] = []
    try:
        assert keeper.keep([POINT], lambda: stored.append(1))  # returns while the store hangs
        assert keeper.keep([POINT], lambda: stored.append(2))
        assert not keeper.keep([POINT], lambda: stored.append(3))  # too many waiting
        assert (stored, keeper.refused) == ([], 1)
        store.let_go.set()  # the store fails once, then answers: tried again, in order
        wait_until(lambda: stored == [1, 2], 10, "both stored after a retry")
        assert keeper.retries == 1 and len(store.written) == 2
    finally:
        keeper.stop()


def test_a_message_is_acknowledged_once_every_party_handled_it() -> None:
    acknowledged: list[int] = []
    acks = JointAcks(acknowledged.extend)
    acks.done([1])  # judged, not kept: at once
    acks.both([2, 3])
    acks.done([2, 3])  # judged
    assert acknowledged == [1]
    acks.done([3])  # kept
    acks.both([4])
    acks.done([4])  # kept before it was judged
    assert acknowledged == [1, 3]
    acks.done([2, 4])
    assert acknowledged == [1, 3, 2, 4]
