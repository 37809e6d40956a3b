"""People's accounts and sessions, and who a request comes from (a token or a person)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ioc.domain._access import ApiToken, Role
from ioc.domain._audit import AuditEntry, Caller, audited
from ioc.domain._errors import IocError

# A sign-in name as directories and people write them: `lan`, `nguyen.thi.lan`, `lan@tinh`.
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class AccountSource(StrEnum):
    """Where an account's password is checked."""

    LOCAL = "local"  # a password hashed in the state database (`ioc user add`)
    DIRECTORY = "directory"  # the province's LDAP / Active Directory; kept here once signed in


@dataclass(frozen=True, slots=True)
class Account:
    """A person's account (never the password, nor its hash)."""

    username: str
    display_name: str
    role: Role
    source: AccountSource
    created_at_ms: int
    created_by: str | None = None
    disabled_at_ms: int | None = None
    locked_until_ms: int | None = None  # after repeated failures
    failed_attempts: int = 0  # in a row, since the last success or lock
    last_sign_in_ms: int | None = None

    @property
    def actor(self) -> str:
        """How what the person does is recorded: `Nguyễn Thị Lan (lan)`."""
        return f"{self.display_name} ({self.username})"

    def locked_at(self, now_ms: int) -> bool:
        """Whether the account is locked out at `now_ms`."""
        return self.locked_until_ms is not None and self.locked_until_ms > now_ms


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A person's open session: who, with which role, until when, and the token a request
    that changes something must carry beside the cookie (against cross-site requests)."""

    session_id: int
    account: Account
    expires_at_ms: int
    csrf: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: an API token, or a person signed in with a cookie."""

    name: str  # shown: the token's name, the person's display name
    role: Role
    actor: str  # recorded: `Chị Lan (token #2)`, `Nguyễn Thị Lan (lan)`
    session: SignedIn | None = None  # a person's session; None for a token

    @classmethod
    def of_token(cls, token: ApiToken) -> Principal:
        """A request carrying an API token."""
        return cls(token.name, token.role, token.actor)

    @classmethod
    def of_session(cls, session: SignedIn) -> Principal:
        """A request carrying a session's cookie."""
        account = session.account
        return cls(account.display_name, account.role, account.actor, session)


class SignInRefused(IocError):
    """A sign-in refused: what the person is told (`said(...)`, to be told in their language),
    and why, for the log and the trail (a directory's reason, a lockout), which may say more
    than the person should hear."""

    def __init__(self, told: str, why: str, retry_after_s: int | None = None) -> None:
        super().__init__(why)
        self.told = told
        self.why = why
        self.retry_after_s = retry_after_s


def account_entry(
    caller: Caller, at_ms: int, action: str, account: Account, before: Account | None = None
) -> AuditEntry:
    """An account made or changed, as the audit trail keeps it (never a password)."""

    def shown(which: Account | None) -> dict[str, object] | None:
        if which is None:
            return None
        return {
            "name": which.display_name,
            "role": which.role.value,
            "source": which.source.value,
            "disabled": which.disabled_at_ms is not None,
            "locked": which.locked_at(at_ms),
        }

    target = f"account {account.username}"
    return audited(caller, at_ms, action, target, shown(before), shown(account))
