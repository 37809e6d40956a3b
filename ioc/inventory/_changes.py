"""What one inventory document changes from another, entry by entry, and applying it.

Every way of changing the inventory (a sheet, the API, a reform, discovery) makes a new
document; the live inventory records the change between the two, shows it, and replays it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["area", "device"]
Entry = dict[str, Any]

# Which field says where an entry stands: a device moves when its area changes, an area when
# its parent does.
_PLACE = {"area": "parent", "device": "area"}
_PLURAL = {"area": "areas", "device": "devices"}


@dataclass(frozen=True, slots=True)
class EntryChange:
    """One entry added, changed, moved or removed (`entry` None) from what it `was` (None:
    added)."""

    kind: Kind
    id: str
    entry: Entry | None
    was: Entry | None

    @property
    def verb(self) -> str:
        """added, changed, moved, or retired."""
        if self.was is None:
            return "added"
        if self.entry is None:
            return "retired"
        place = _PLACE[self.kind]
        return "moved" if self.was.get(place) != self.entry.get(place) else "changed"

    def line(self) -> str:
        """`  moved    device bts-QT-00417 (QT-C0001 -> QT-C0002): name` (and the fields that
        changed besides)."""
        text = f"  {self.verb:8} {self.kind} {self.id}"
        if self.was is None or self.entry is None:
            return text
        place = _PLACE[self.kind]
        if self.verb == "moved":
            text += f" ({self.was.get(place)} -> {self.entry.get(place)})"
        fields = sorted(
            k for k in self.was.keys() | self.entry.keys()
            if k != place and self.was.get(k) != self.entry.get(k)
        )  # fmt: skip
        return text + (f": {', '.join(fields)}" if fields else "")

    def as_json(self) -> Entry:
        """As the state database keeps it and the API shows it."""
        return {"kind": self.kind, "id": self.id, "entry": self.entry, "was": self.was}

    @classmethod
    def of_json(cls, data: Entry) -> EntryChange:
        """Back from `as_json`."""
        return cls(data["kind"], data["id"], data["entry"], data["was"])


def changes_between(old: Entry, new: Entry) -> list[EntryChange]:
    """What makes document `old` into document `new`: areas first, then devices, each in the
    new document's order, the removed after."""
    found: list[EntryChange] = []
    for kind in ("area", "device"):
        before = {e["id"]: e for e in old.get(_PLURAL[kind], [])}
        after = {e["id"]: e for e in new.get(_PLURAL[kind], [])}
        for entry_id, entry in after.items():
            was = before.get(entry_id)
            if was != entry:
                found.append(EntryChange(kind, entry_id, entry, was))
        found += [
            EntryChange(kind, entry_id, None, was)
            for entry_id, was in before.items()
            if entry_id not in after
        ]
    return found


def with_changes(document: Entry, changes: Iterable[EntryChange]) -> Entry:
    """`document` with `changes` made (a new document; an entry changed keeps its place, one
    added goes last)."""
    lists = {kind: {e["id"]: e for e in document.get(_PLURAL[kind], [])} for kind in _PLURAL}
    for change in changes:
        entries = lists[change.kind]
        if change.entry is None:
            entries.pop(change.id, None)
        else:
            entries[change.id] = change.entry
    return {
        "version": document.get("version", 1),
        "areas": list(lists["area"].values()),
        "devices": list(lists["device"].values()),
    }


def summary(changes: Sequence[EntryChange]) -> str:
    """`2 devices added, 1 device moved, 1 area added`; `no change`."""
    counts = Counter((c.kind, c.verb) for c in changes)
    if not counts:
        return "no change"
    parts = []
    for kind in ("device", "area"):
        for verb in ("added", "changed", "moved", "retired"):
            n = counts.get((kind, verb), 0)
            if n:
                parts.append(f"{n:,} {kind if n == 1 else _PLURAL[kind]} {verb}")
    return ", ".join(parts)


def lines(changes: Sequence[EntryChange], limit: int = 20) -> list[str]:
    """A line per change, the first `limit` (then how many more)."""
    shown = [change.line() for change in changes[:limit]]
    if len(changes) > limit:
        shown.append(f"  ... and {len(changes) - limit:,} more")
    return shown
