"""The live inventory's versions in the state database: recorded in turn, read back whole."""

from __future__ import annotations

import pytest

from ioc.state import InventoryVersions, NewVersion, StaleVersion, connect_state

DOCUMENT = {"version": 1, "areas": [{"id": "QT"}], "devices": []}


def _new(number: int, snapshot: object = None, **fields: object) -> NewVersion:
    values: dict[str, object] = {
        "recorded_at_ms": 1000 * number, "effective_at_ms": 1000 * number,
        "recorded_by": "tester", "origin": "api", "reason": f"step {number}",
        "summary": "1 device added", "changes": [{"n": number}], "snapshot": snapshot,
    }  # fmt: skip
    return NewVersion(**(values | fields))  # type: ignore[arg-type]


def test_versions_follow_each_other_and_a_stale_writer_is_told(state_url: str) -> None:
    engine = connect_state(state_url)
    versions = InventoryVersions(engine)
    try:
        assert versions.newest() is None and versions.newest_number() == 0
        with pytest.raises(ValueError, match="whole document"):
            versions.record(0, _new(1))
        first = versions.record(0, _new(1, DOCUMENT, origin="start", file_digest="d1"))
        assert (first.number, first.origin, first.file_digest) == (1, "start", "d1")
        for number in (2, 3, 4):
            versions.record(number - 1, _new(number, DOCUMENT if number == 3 else None))
        with pytest.raises(StaleVersion, match="version 4 was recorded meanwhile"):
            versions.record(2, _new(3))  # made on version 2: it has not seen 3 and 4
        assert versions.newest_number() == 4
        assert versions.newest_from_file() == first
        # Version 4 is the snapshot of 3 and the changes of 4; version 2 the first's and 2's.
        assert versions.parts(4) == (DOCUMENT, [[{"n": 4}]])
        assert versions.parts(2) == (DOCUMENT, [[{"n": 2}]])
        assert versions.since_snapshot(4) == 1 and versions.since_snapshot(3) == 0
        assert [v.number for v in versions.history(2)] == [4, 3]
        assert [v.number for v in versions.history(10, before=3)] == [2, 1]
        assert versions.changes(2) == [{"n": 2}] and versions.changes(9) == []
        assert versions.effective_at(2500) == 2 and versions.effective_at(10) == 0
        with pytest.raises(LookupError):
            versions.parts(0)
    finally:
        engine.dispose()
