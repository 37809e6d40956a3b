"""Who may do what through the API."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ioc.domain._audit import AuditEntry, Caller, audited
from ioc.domain._clock import iso_utc
from ioc.domain._errors import BadInput, said

# How long a token may be made to live, whoever makes it (the CLI, the API): at least a
# minute, at most ten years; none: until revoked.
TOKEN_LIFETIME_S = (60, 10 * 365 * 86_400)


def token_expiry(now_ms: int, lifetime_s: float | None) -> int | None:
    """When a token made now for `lifetime_s` expires (None: never); BadInput outside the
    bounds every maker keeps."""
    if lifetime_s is None:
        return None
    shortest, longest = TOKEN_LIFETIME_S
    if not shortest <= lifetime_s <= longest:
        raise BadInput(
            said("a token lives from 1 minute to 10 years, not {seconds:g} s", seconds=lifetime_s)
        )
    return now_ms + round(lifetime_s * 1000)


class Role(StrEnum):
    """An API token's role; each includes the ones below it."""

    VIEWER = "viewer"  # read-only: the wall
    OPERATOR = "operator"  # acknowledge, notes, resolve, maintenance windows
    ADMIN = "admin"  # tokens, rule reload

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may."""
        return _RANK[self] >= _RANK[needed]

    @property
    def rank(self) -> int:
        """1 for a viewer to 3 for an admin: the highest of several roles wins."""
        return _RANK[self]


_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token's record (never the secret itself)."""

    id: int
    name: str
    role: Role
    created_at_ms: int
    revoked_at_ms: int | None
    expires_at_ms: int | None = None  # None: until revoked
    created_by: str | None = None  # who made it: a token's actor, or a CLI user
    revoked_by: str | None = None

    @property
    def actor(self) -> str:
        """How what the token does is recorded: its name, and which token it was."""
        return f"{self.name} (token #{self.id})"


@dataclass(frozen=True, slots=True)
class StageBeat:
    """A stage's latest sign of life: when, when it last took data, whether it hears devices."""

    stage: str
    at_ms: int
    last_item_ms: int | None
    hearing: bool


def token_created(token: ApiToken, caller: Caller) -> AuditEntry:
    """A token made, as the audit trail keeps it (its role, name and end; never its secret)."""
    end = iso_utc(token.expires_at_ms) if token.expires_at_ms is not None else None
    after = {"role": token.role.value, "name": token.name, "expires_at": end}
    return audited(caller, token.created_at_ms, "token.create", f"token #{token.id}", None, after)


def token_revoked(token_id: int, at_ms: int, caller: Caller) -> AuditEntry:
    """A token revoked, as the audit trail keeps it."""
    return audited(
        caller, at_ms, "token.revoke", f"token #{token_id}", {"revoked": False}, {"revoked": True}
    )
