"""A person signs in and out: a session cookie for the wall and the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from ioc.api.deps import (
    SESSION_COOKIE,
    Context,
    Viewer,
    origin_of,
    problems,
    throttled_address,
    told_to,
)
from ioc.domain import Role, SignInRefused

router = APIRouter(tags=["session"])


class SignIn(BaseModel):
    """A person's name and password (a local account's, or the province's directory's)."""

    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=1024)


class SessionPublic(BaseModel):
    """Who signed in, until when, and the token a change must carry in X-CSRF-Token."""

    username: str
    name: str
    role: Role
    expires_at_ms: int
    csrf: str


@router.post("/session", responses=problems(401, 429, 503))
def sign_in(
    body: Annotated[SignIn, Body()], request: Request, response: Response, context: Context
) -> SessionPublic:
    """Sign in: answers the person and sets the `ioc_session` cookie (HttpOnly, SameSite
    Strict). Every request after it is the person's; one that changes something also carries
    `X-CSRF-Token` with the answer's `csrf`. A wrong password counts towards the address's
    throttle and the account's lockout."""
    if context.accounts is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this API takes tokens only")
    address = throttled_address(request, context)
    try:
        session, secret = context.accounts.sign_in(body.username, body.password, origin_of(request))
    except SignInRefused as refused:
        context.throttle.failed(address)
        headers = {"WWW-Authenticate": 'Cookie realm="ioc"'}
        if refused.retry_after_s is not None:
            headers["Retry-After"] = str(refused.retry_after_s)
        told = told_to(request, refused.told)  # in the language the sign-in form asks for
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, told, headers=headers) from None
    lifetime_s = max(1, -(-(session.expires_at_ms - context.clock()) // 1000))  # rounded up
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=lifetime_s, path="/", httponly=True,
        samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip
    account = session.account
    return SessionPublic(
        username=account.username, name=account.display_name, role=account.role,
        expires_at_ms=session.expires_at_ms, csrf=session.csrf,
    )  # fmt: skip


@router.delete(
    "/session", status_code=status.HTTP_204_NO_CONTENT, responses=problems(401, 403, 409)
)
def sign_out(request: Request, context: Context, caller: Viewer) -> Response:
    """Sign out: the session ends at once (send X-CSRF-Token, as for any change)."""
    if caller.session is None or context.accounts is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "signed in with a token: no session")
    context.accounts.sign_out(caller.session, origin_of(request))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
