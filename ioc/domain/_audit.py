"""The audit trail: who did what, when, from where, and what it was before and after."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, and from where: a token's or a person's name (`Chị Lan (token #2)`), and the
    address it came from (`api 10.0.0.7`) or the command line's host (`cli ioc-1`)."""

    name: str
    origin: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One operator's or admin's action: what (`alert.acknowledge`), on what (`alert #5`),
    and what it was before and after (JSON objects; none where nothing was)."""

    at_ms: int
    actor: str
    origin: str
    action: str
    target: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    id: int = field(default=0, compare=False)


class AuditTrail(Protocol):
    """Where actions are kept (the state database's AuditLog)."""

    def record(self, entry: AuditEntry) -> AuditEntry:
        """Keep one action; the entry with its id."""
        ...


def audited(
    caller: Caller,
    at_ms: int,
    action: str,
    target: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """An action of `caller` as the trail keeps it."""
    return AuditEntry(at_ms, caller.name, caller.origin, action, target, before, after)


def change_text(change: dict[str, Any] | None) -> str:
    """A before or after as one line of JSON, keys sorted (empty for none): how the trail
    stores it and how a table or a CSV shows it."""
    if change is None:
        return ""
    return json.dumps(change, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
