"""API tokens: random secrets shown once, stored only as their SHA-256, each with a role."""

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
    insert,
    select,
    update,
)

from ioc.domain import ApiToken, Role
from ioc.state._db import metadata, run_in

api_token_table = Table(
    "api_token",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    # A token is 256 random bits, so a plain SHA-256 cannot be brute-forced; a slow password
    # hash would only slow every request down.
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("revoked_at_ms", BigInteger, nullable=True),
    Column("expires_at_ms", BigInteger, nullable=True),  # none: until revoked
    Column("created_by", String(128), nullable=True),  # none: made before it was recorded
    Column("revoked_by", String(128), nullable=True),
)

T = TypeVar("T")
TOKEN_PREFIX = "ioc_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token(row: Any) -> ApiToken:
    return ApiToken(
        row.id, row.name, Role(row.role), row.created_at_ms, row.revoked_at_ms, row.expires_at_ms,
        row.created_by, row.revoked_by,
    )  # fmt: skip


class TokenStore:
    """Creates, checks and revokes API tokens."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _run(self, what: str, work: Callable[[Connection], T]) -> T:
        return run_in(self._engine, what, work)

    def create(
        self,
        role: Role,
        name: str,
        now_ms: int,
        expires_at_ms: int | None = None,
        created_by: str | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token: its record, and the secret (shown once, never stored)."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        name = name[:128]
        created_by = created_by[:128] if created_by else None
        row = {
            "name": name,
            "role": role.value,
            "digest": _digest(secret),
            "created_at_ms": now_ms,
            "expires_at_ms": expires_at_ms,
            "created_by": created_by,
        }
        table = api_token_table
        token_id = self._run(
            "create a token",
            lambda c: c.execute(insert(table).values(row).returning(table.c.id)).scalar_one(),
        )
        record = ApiToken(int(token_id), name, role, now_ms, None, expires_at_ms, created_by)
        return record, secret

    def find(self, secret: str, now_ms: int) -> ApiToken | None:
        """The record of a valid token, unrevoked and unexpired at `now_ms`; None otherwise."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        table = api_token_table
        query = select(table).where(
            table.c.digest == _digest(secret),
            table.c.revoked_at_ms.is_(None),
            (table.c.expires_at_ms.is_(None)) | (table.c.expires_at_ms > now_ms),
        )
        row = self._run("check a token", lambda c: c.execute(query).first())
        return None if row is None else _token(row)

    def list(self) -> list[ApiToken]:
        """Every token, revoked ones included."""
        table = api_token_table
        return self._run(
            "list tokens",
            lambda c: [_token(r) for r in c.execute(select(table).order_by(table.c.id))],
        )

    def revoke(self, token_id: int, now_ms: int, revoked_by: str | None = None) -> bool:
        """Revoke a token; False if there was no such live token."""
        table = api_token_table
        statement = (
            update(table)
            .where(table.c.id == token_id, table.c.revoked_at_ms.is_(None))
            .values(revoked_at_ms=now_ms, revoked_by=revoked_by[:128] if revoked_by else None)
        )
        return bool(self._run("revoke a token", lambda c: c.execute(statement).rowcount))
