"""The audit trail on both databases: kept as given, found newest first by time, by part of
the actor's name and by the action's prefix, before and after as they were."""

from __future__ import annotations

import pytest

from ioc.domain import AuditEntry
from ioc.state import AuditLog, connect_state

T0 = 1_793_491_200_000


@pytest.mark.parametrize("state_url", ["sqlite", "postgresql"], indirect=True)
def test_actions_are_kept_and_found(state_url: str) -> None:
    engine = connect_state(state_url)
    trail = AuditLog(engine)
    kept = [
        trail.record(AuditEntry(T0, "Chị Lan (token #2)", "api 10.0.0.7", "alert.acknowledge",
                                "alert #5", {"state": "firing"},
                                {"outcome": "done", "note": "đang thay ắc quy"})),
        trail.record(AuditEntry(T0 + 1000, "root", "cli ioc-1", "token.create", "token #3",
                                None, {"role": "viewer", "name": "wall", "expires_at": None})),
        trail.record(AuditEntry(T0 + 2000, "an", "cli ioc-1", "window.plan", "window #1",
                                None, {"scope": "device", "target": "gw1"})),
    ]  # fmt: skip
    assert [e.id for e in kept] == sorted(e.id for e in kept) and kept[0].id > 0
    assert trail.find() == kept[::-1]  # newest first, every field as it was given
    assert trail.find(actor="lan") == [kept[0]]  # a part of the name
    assert trail.find(action="token.") == [kept[1]]  # a prefix
    assert trail.find(action="%") == []  # a wildcard is a character like any other
    assert trail.find(since_ms=T0 + 1000, until_ms=T0 + 2000) == [kept[1]]
    assert trail.find(limit=1, offset=1) == [kept[1]]
    long = trail.record(AuditEntry(T0, "x" * 500, "cli", "note", "alert #1"))
    assert len(long.actor) == 200 and trail.find(limit=1)[0].actor == long.actor
    engine.dispose()
