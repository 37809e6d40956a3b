"""People's accounts and their sessions in the state database.

A password is kept only as its Argon2 hash (made in ioc/accounts); a session's secret, like a
token's, only as its SHA-256 (256 random bits cannot be guessed, and a slow hash would slow
every request)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ioc.domain import Account, AccountSource, Conflict, NotFound, Role, SignedIn, said
from ioc.state._db import StateRefused, metadata, run_in

account_table = Table(
    "account",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),  # lower case
    Column("display_name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("password_hash", Text, nullable=True),  # none for a directory's person
    Column("created_at_ms", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=True),
    Column("disabled_at_ms", BigInteger, nullable=True),
    Column("locked_until_ms", BigInteger, nullable=True),
    Column("failed_attempts", Integer, nullable=False, server_default="0"),
    Column("last_sign_in_ms", BigInteger, nullable=True),
)

session_table = Table(
    "account_session",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("username", String(64), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("origin", String(200), nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("expires_at_ms", BigInteger, nullable=False),
    Column("closed_at_ms", BigInteger, nullable=True),
)

T = TypeVar("T")
SESSION_PREFIX = "ioc-s_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _account(row: Any) -> Account:
    return Account(
        row.username, row.display_name, Role(row.role), AccountSource(row.source),
        row.created_at_ms, row.created_by, row.disabled_at_ms, row.locked_until_ms,
        row.failed_attempts, row.last_sign_in_ms,
    )  # fmt: skip


class AccountStore:
    """Accounts (with their password hashes) and sessions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _run(self, what: str, work: Callable[[Connection], T], write: bool = True) -> T:
        return run_in(self._engine, what, work, write)

    def add(
        self,
        username: str,
        display_name: str,
        role: Role,
        source: AccountSource,
        password_hash: str | None,
        now_ms: int,
        created_by: str | None,
    ) -> Account:
        """A new account; Conflict if the name is taken (by the unique name, so two nodes
        adding one person at once get one account and one Conflict)."""
        row = {
            "username": username, "display_name": display_name[:128], "role": role.value,
            "source": source.value, "password_hash": password_hash, "created_at_ms": now_ms,
            "created_by": created_by[:200] if created_by else None,
        }  # fmt: skip
        try:
            self._run("add an account", lambda c: c.execute(insert(account_table).values(row)))
        except StateRefused as exc:
            if isinstance(exc.__cause__, IntegrityError):
                taken = said("there is already an account {name!r}", name=username)
                raise Conflict(taken) from exc
            raise
        added = self.find(username)
        assert added is not None
        return added

    def find(self, username: str) -> Account | None:
        """The account of that name, or None."""
        row = self._row(username)
        return None if row is None else _account(row)

    def password_hash(self, username: str) -> str | None:
        """The account's password hash (none: no such local account)."""
        row = self._row(username)
        return None if row is None else row.password_hash

    def _row(self, username: str) -> Any:
        query = select(account_table).where(account_table.c.username == username)
        return self._run("read an account", lambda c: c.execute(query).first(), write=False)

    def list(self) -> list[Account]:
        """Every account, by name."""
        query = select(account_table).order_by(account_table.c.username)
        return self._run(
            "list accounts", lambda c: [_account(r) for r in c.execute(query)], write=False
        )

    def change(self, username: str, **values: Any) -> Account:
        """Set some of an account's columns (NotFound if there is no such account)."""
        table = account_table
        statement = update(table).where(table.c.username == username).values(**values)
        if not self._run("change an account", lambda c: c.execute(statement).rowcount):
            raise NotFound(said("no account {name!r}", name=username))
        changed = self.find(username)
        assert changed is not None
        return changed

    def failed(self, username: str, now_ms: int, limit: int, lock_ms: int) -> Account | None:
        """One more failed password for an account: locked for `lock_ms` once `limit` fail in
        a row. One statement, so that two nodes counting the same guesses add up."""
        table = account_table
        count = table.c.failed_attempts + 1
        statement = (
            update(table)
            .where(table.c.username == username)
            .values(failed_attempts=count)
            .returning(table.c.failed_attempts)
        )

        def work(connection: Connection) -> None:
            reached = connection.execute(statement).scalar()
            if reached is not None and reached >= limit:
                connection.execute(
                    update(table)
                    .where(table.c.username == username)
                    .values(failed_attempts=0, locked_until_ms=now_ms + lock_ms)
                )

        self._run("count a failed sign-in", work)
        return self.find(username)

    def open_session(
        self, account: Account, origin: str, now_ms: int, lifetime_ms: int
    ) -> tuple[SignedIn, str]:
        """A session for a person who just proved who they are: its record and the secret
        for the cookie (kept only as its digest). The failure count is reset."""
        secret = SESSION_PREFIX + secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        row = {
            "digest": _digest(secret), "username": account.username, "csrf": csrf,
            "origin": origin[:200], "created_at_ms": now_ms,
            "expires_at_ms": now_ms + lifetime_ms,
        }  # fmt: skip
        table = account_table

        def work(connection: Connection) -> int:
            connection.execute(
                update(table)
                .where(table.c.username == account.username)
                .values(failed_attempts=0, locked_until_ms=None, last_sign_in_ms=now_ms)
            )
            inserted = insert(session_table).values(row).returning(session_table.c.id)
            return int(connection.execute(inserted).scalar_one())

        session_id = self._run("open a session", work)
        current = self.find(account.username) or account
        return SignedIn(session_id, current, now_ms + lifetime_ms, csrf), secret

    def session(self, secret: str, now_ms: int) -> SignedIn | None:
        """The open session of a cookie, its account enabled; None otherwise."""
        if not secret.startswith(SESSION_PREFIX) or len(secret) > 200:
            return None
        s, a = session_table, account_table
        query = (
            select(s.c.id, s.c.csrf, s.c.expires_at_ms, a)
            .join(a, a.c.username == s.c.username)
            .where(
                s.c.digest == _digest(secret),
                s.c.closed_at_ms.is_(None),
                s.c.expires_at_ms > now_ms,
                a.c.disabled_at_ms.is_(None),
            )
        )
        row = self._run("check a session", lambda c: c.execute(query).first(), write=False)
        return None if row is None else SignedIn(row.id, _account(row), row.expires_at_ms, row.csrf)

    def close_session(self, session_id: int, now_ms: int) -> None:
        """Sign a session out."""
        statement = (
            update(session_table)
            .where(session_table.c.id == session_id, session_table.c.closed_at_ms.is_(None))
            .values(closed_at_ms=now_ms)
        )
        self._run("close a session", lambda c: c.execute(statement))

    def close_sessions_of(self, username: str, now_ms: int) -> int:
        """Sign every session of an account out; how many were open."""
        s = session_table
        statement = (
            update(s)
            .where(s.c.username == username, s.c.closed_at_ms.is_(None))
            .values(closed_at_ms=now_ms)
        )
        return int(
            self._run("close an account's sessions", lambda c: c.execute(statement).rowcount)
        )
