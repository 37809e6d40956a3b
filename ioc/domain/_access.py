"""Who may do what through the API."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """An API token's role; each includes the ones below it."""

    VIEWER = "viewer"  # read-only: the wall
    OPERATOR = "operator"  # acknowledge, notes, resolve, maintenance windows
    ADMIN = "admin"  # tokens, rule reload

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may."""
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}
