"""API tokens, for admins: list, create (the secret is returned once), revoke."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from ioc.api.deps import Admin, AdminCaller, Context, RowId, problems
from ioc.domain import (
    TOKEN_LIFETIME_S,
    ApiToken,
    Role,
    token_created,
    token_expiry,
    token_revoked,
)

router = APIRouter(prefix="/tokens", tags=["tokens"])


class TokenCreate(BaseModel):
    """A token to create."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(min_length=1, max_length=128)
    # None: never; the bounds every token maker keeps (ioc.domain.token_expiry)
    expires_in_s: int | None = Field(default=None, ge=TOKEN_LIFETIME_S[0], le=TOKEN_LIFETIME_S[1])


class TokenPublic(BaseModel):
    """A token's record (never its secret)."""

    id: int
    name: str
    role: Role
    created_at_ms: int
    revoked_at_ms: int | None
    expires_at_ms: int | None
    created_by: str | None  # the actor that made it (a token, or a CLI user)
    revoked_by: str | None


class TokenCreated(TokenPublic):
    """A new token, with its secret: shown this once."""

    secret: str


def _public(token: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=token.id,
        name=token.name,
        role=token.role,
        created_at_ms=token.created_at_ms,
        revoked_at_ms=token.revoked_at_ms,
        expires_at_ms=token.expires_at_ms,
        created_by=token.created_by,
        revoked_by=token.revoked_by,
    )


@router.get("")
def list_tokens(context: Context, _caller: Admin) -> list[TokenPublic]:
    """Every token, revoked ones included."""
    return [_public(token) for token in context.tokens.list()]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, context: Context, caller: AdminCaller) -> TokenCreated:
    """A new token; keep the secret, it is not shown again."""
    now = context.clock()
    expires = token_expiry(now, body.expires_in_s)
    token, secret = context.tokens.create(body.role, body.name, now, expires, caller.name)
    context.trail().record(token_created(token, caller))
    return TokenCreated(**_public(token).model_dump(), secret=secret)


@router.post("/{token_id}/revoke", responses=problems(404))
def revoke_token(token_id: RowId, context: Context, caller: AdminCaller) -> dict[str, str]:
    """Revoke a token at once."""
    now = context.clock()
    if not context.tokens.revoke(token_id, now, caller.name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no live token {token_id}")
    context.trail().record(token_revoked(token_id, now, caller))
    return {"status": "revoked"}
