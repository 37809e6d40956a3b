"""The change between two inventory documents, entry by entry, and replaying it."""

from __future__ import annotations

from ioc.inventory import EntryChange, changes_between, lines, summary, with_changes

OLD = {
    "version": 1,
    "areas": [
        {"id": "QT", "name": "Quảng Trị", "kind": "province"},
        {"id": "QT-C1", "name": "Xã A", "kind": "commune", "parent": "QT"},
        {"id": "QT-C2", "name": "Xã B", "kind": "commune", "parent": "QT"},
    ],
    "devices": [
        {"id": "gw-1", "class": "netgw", "area": "QT-C1", "name": "Cổng A"},
        {"id": "bts-1", "class": "bts", "area": "QT-C1", "name": "Trạm 1"},
        {"id": "bts-2", "class": "bts", "area": "QT-C2", "name": "Trạm 2"},
    ],
}
NEW = {
    "version": 1,
    "areas": [
        {"id": "QT", "name": "Quảng Trị", "kind": "province"},
        {"id": "QT-C1", "name": "Xã A mới", "kind": "commune", "parent": "QT"},
    ],
    "devices": [
        {"id": "gw-1", "class": "netgw", "area": "QT-C1", "name": "Cổng A"},
        {"id": "bts-1", "class": "bts", "area": "QT-C1", "name": "Trạm 1", "tags": ["4g"]},
        {"id": "bts-2", "class": "bts", "area": "QT-C1", "name": "Trạm 2 mới"},
        {"id": "bts-3", "class": "bts", "area": "QT-C1", "name": "Trạm 3"},
    ],
}


def test_each_entry_added_changed_moved_or_retired_is_named_once() -> None:
    changes = changes_between(OLD, NEW)
    assert [(c.kind, c.id, c.verb) for c in changes] == [
        ("area", "QT-C1", "changed"),
        ("area", "QT-C2", "retired"),
        ("device", "bts-1", "changed"),
        ("device", "bts-2", "moved"),
        ("device", "bts-3", "added"),
    ]
    assert summary(changes) == (
        "1 device added, 1 device changed, 1 device moved, 1 area changed, 1 area retired"
    )
    assert lines(changes, limit=3) == [
        "  changed  area QT-C1: name",
        "  retired  area QT-C2",
        "  changed  device bts-1: tags",
        "  ... and 2 more",
    ]
    assert changes[3].line() == "  moved    device bts-2 (QT-C2 -> QT-C1): name"
    assert summary([]) == "no change" and changes_between(NEW, NEW) == []


def test_replaying_the_changes_gives_the_new_document_and_they_survive_json() -> None:
    changes = [EntryChange.of_json(c.as_json()) for c in changes_between(OLD, NEW)]
    replayed = with_changes(OLD, changes)
    assert changes_between(replayed, NEW) == []
    assert {d["id"] for d in replayed["devices"]} == {"gw-1", "bts-1", "bts-2", "bts-3"}
    assert OLD["devices"][2]["area"] == "QT-C2"  # the old document is left as it was
