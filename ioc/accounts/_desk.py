"""People's accounts: added, disabled and enabled by an admin; signed in with a password kept
here or by the province's directory, locked out after repeated failures; every step kept in
the audit trail under the person's name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ioc.accounts._directory import WRONG, Directory, DirectoryUnavailable
from ioc.accounts._passwords import hash_password, password_matches
from ioc.domain import (
    USERNAME,
    Account,
    AccountSource,
    AuditTrail,
    BadInput,
    Caller,
    Conflict,
    NotFound,
    Role,
    SignedIn,
    SignInRefused,
    account_entry,
    audited,
    iso_utc,
    said,
)

log = logging.getLogger("ioc.accounts")

# Who locks an account out: ioc itself, on the person's repeated failures.
LOCKOUT = "ioc (lockout)"


class AccountKeeper(Protocol):
    """Where accounts and sessions are kept (the state database's AccountStore)."""

    def add(
        self, username: str, display_name: str, role: Role, source: AccountSource,
        password_hash: str | None, now_ms: int, created_by: str | None,
    ) -> Account: ...  # fmt: skip
    def find(self, username: str) -> Account | None: ...
    def password_hash(self, username: str) -> str | None: ...
    def list(self) -> list[Account]: ...
    def change(self, username: str, **values: Any) -> Account: ...
    def failed(self, username: str, now_ms: int, limit: int, lock_ms: int) -> Account | None: ...
    def open_session(
        self, account: Account, origin: str, now_ms: int, lifetime_ms: int
    ) -> tuple[SignedIn, str]: ...
    def session(self, secret: str, now_ms: int) -> SignedIn | None: ...
    def close_session(self, session_id: int, now_ms: int) -> None: ...
    def close_sessions_of(self, username: str, now_ms: int) -> int: ...


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    """How long a session lasts, and when repeated failures lock an account out."""

    session_s: float = 12 * 3600  # a shift
    lockout_attempts: int = 5  # wrong passwords in a row
    lockout_s: float = 15 * 60


def username_of(typed: str) -> str:
    """The account name as kept: trimmed, lower case (directories ignore case too);
    BadInput for one that is no name."""
    name = typed.strip().lower()
    if not USERNAME.match(name):
        raise BadInput(
            said("{typed!r} is not a username (letters, digits, . _ @ -; up to 64)", typed=typed)
        )
    return name


class AccountDesk:
    """The accounts' use cases, for the CLI (`ioc user`) and the API (sign-in)."""

    def __init__(
        self,
        store: AccountKeeper,
        trail: AuditTrail,
        clock: Callable[[], int],
        policy: AccountPolicy | None = None,
        directory: Directory | None = None,
    ) -> None:
        self.store = store
        self._trail = trail
        self._clock = clock
        self.policy = policy or AccountPolicy()
        self.directory = directory

    # -- an admin's ------------------------------------------------------------------------

    def add(
        self, username: str, display_name: str, role: Role, password: str, caller: Caller
    ) -> Account:
        """A local account with its password (hashed); Conflict if the name is taken."""
        name = username_of(username)
        if not display_name.strip():
            raise BadInput(said("an account needs the person's name (--name)"))
        hashed = hash_password(password)
        now = self._clock()
        account = self.store.add(
            name, display_name.strip(), role, AccountSource.LOCAL, hashed, now, caller.name
        )
        self._trail.record(account_entry(caller, now, "account.create", account))
        return account

    def disable(self, username: str, caller: Caller) -> Account:
        """No more sign-ins, and every open session ends at once."""
        before = self._existing(username)
        now = self._clock()
        after = self.store.change(before.username, disabled_at_ms=now)
        self.store.close_sessions_of(before.username, now)
        self._trail.record(account_entry(caller, now, "account.disable", after, before))
        return after

    def enable(self, username: str, caller: Caller) -> Account:
        """Signing in again, the lockout lifted."""
        before = self._existing(username)
        now = self._clock()
        after = self.store.change(
            before.username, disabled_at_ms=None, locked_until_ms=None, failed_attempts=0
        )
        self._trail.record(account_entry(caller, now, "account.enable", after, before))
        return after

    def set_password(self, username: str, password: str, caller: Caller) -> Account:
        """A new password for a local account; its sessions end (the old one may be known)."""
        before = self._existing(username)
        if before.source is not AccountSource.LOCAL:
            raise BadInput(
                said("{name}'s password is the directory's, not ioc's", name=before.username)
            )
        now = self._clock()
        after = self.store.change(
            before.username, password_hash=hash_password(password), locked_until_ms=None,
            failed_attempts=0,
        )  # fmt: skip
        self.store.close_sessions_of(before.username, now)
        self._trail.record(account_entry(caller, now, "account.password", after, before))
        return after

    def _existing(self, username: str) -> Account:
        account = self.store.find(username_of(username))
        if account is None:
            raise NotFound(said("no account {name!r}", name=username))
        return account

    # -- a person's ------------------------------------------------------------------------

    def sign_in(self, username: str, password: str, origin: str) -> tuple[SignedIn, str]:
        """A session for the person (its record, and the cookie's secret), or SignInRefused
        saying what they may be told; the reason is logged and kept in the audit trail."""
        now = self._clock()
        try:
            name = username_of(username)
        except BadInput:
            raise SignInRefused(WRONG, "not a username") from None
        try:
            account = self._checked(name, password, origin, now)
        except SignInRefused as refused:
            log.warning("sign-in refused for %r from %s: %s", name, origin, refused.why)
            caller = Caller(name, origin)
            self._trail.record(
                audited(caller, now, "session.refused", f"account {name}", None,
                        {"reason": refused.why})
            )  # fmt: skip
            raise
        session, secret = self.store.open_session(
            account, origin, now, round(self.policy.session_s * 1000)
        )
        caller = Caller(account.actor, origin)
        after = {"role": account.role.value, "source": account.source.value,
                 "expires_at": iso_utc(session.expires_at_ms)}  # fmt: skip
        self._trail.record(audited(caller, now, "session.open", f"account {name}", None, after))
        return session, secret

    def _checked(self, name: str, password: str, origin: str, now: int) -> Account:
        """The account whose password this is, made or brought up to date from the directory
        when it is the directory's; SignInRefused otherwise."""
        account = self.store.find(name)
        if account is not None and account.disabled_at_ms is not None:
            told = said("this account is disabled; ask an ioc admin")
            raise SignInRefused(told, "disabled in ioc")
        if account is not None and account.locked_at(now):
            until = account.locked_until_ms or now
            raise SignInRefused(
                said("too many wrong passwords: this account is locked for a while"),
                f"locked out by ioc until {iso_utc(until)}",
                retry_after_s=max(1, (until - now + 999) // 1000),
            )
        local = account is not None and account.source is AccountSource.LOCAL
        if local or self.directory is None:
            stored = self.store.password_hash(name) if local else None
            if not password_matches(password, stored):
                self._failed(account, origin, now)
                raise SignInRefused(WRONG, "wrong password" if local else "no such account")
            assert account is not None
            return account
        try:
            person = self.directory.sign_in(name, password, now / 1000)
        except SignInRefused:
            self._failed(account, origin, now)
            raise
        except DirectoryUnavailable as away:
            log.warning("sign-in of %r from %s not checked: %s", name, origin, away)
            raise
        if account is None:
            try:
                return self.store.add(
                    name, person.display_name, person.role, AccountSource.DIRECTORY, None, now,
                    "directory",
                )  # fmt: skip
            except Conflict:  # the same person's first sign-in on another node, just now
                account = self.store.find(name)
                assert account is not None
        if (account.display_name, account.role) == (person.display_name, person.role):
            return account
        # The directory's groups decide: a person moved to another group has that role now.
        changed = self.store.change(name, display_name=person.display_name, role=person.role)
        self._trail.record(
            account_entry(Caller("directory", origin), now, "account.change", changed, account)
        )
        return changed

    def _failed(self, account: Account | None, origin: str, now: int) -> None:
        if account is None:
            return
        policy = self.policy
        after = self.store.failed(
            account.username, now, policy.lockout_attempts, round(policy.lockout_s * 1000)
        )
        if after is not None and after.locked_at(now) and not account.locked_at(now):
            log.warning("account %r locked out after %d wrong passwords", account.username,
                        policy.lockout_attempts)  # fmt: skip
            caller = Caller(LOCKOUT, origin)
            self._trail.record(account_entry(caller, now, "account.lock", after, account))

    def session(self, secret: str) -> SignedIn | None:
        """The open session of a cookie; None when there is none (ended, expired, disabled)."""
        return self.store.session(secret, self._clock())

    def sign_out(self, session: SignedIn, origin: str) -> None:
        """End a session at the person's request."""
        now = self._clock()
        self.store.close_session(session.session_id, now)
        caller = Caller(session.account.actor, origin)
        self._trail.record(
            audited(caller, now, "session.close", f"account {session.account.username}")
        )
