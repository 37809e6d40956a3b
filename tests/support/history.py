"""A recorded history written by hand, as a running `ioc run` would have left it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine

from ioc.state import WatchLog, connect_state


def record_watching(
    state: Engine | str, start_ms: int, end_ms: int, devices: Iterable[str]
) -> None:
    """ioc watched from `start_ms` to `end_ms`, having heard each of `devices` at the start
    (reports count only watched time)."""
    engine = connect_state(state) if isinstance(state, str) else state
    log = WatchLog(engine)
    log.extend(log.begin(start_ms), end_ms)
    log.heard(dict.fromkeys(devices, start_ms))
    if isinstance(state, str):
        engine.dispose()


SMALL_DEVICES = ("gw1", "gw2", "bts1", "bts2", "vc1", "vc2")  # tests/rules/testdata/inventory
