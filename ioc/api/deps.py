"""Dependencies of the routes: the context, and who is calling with which role."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from ioc.api._context import ApiContext
from ioc.api._follow import Changes
from ioc.api._live import LiveView
from ioc.domain import Caller, Principal, Role
from ioc.i18n import Language, Speech, chosen_language

_bearer = HTTPBearer(auto_error=False, description="An API token from `ioc token create`")


def get_context(request: Request) -> ApiContext:
    """The API's resources, from the lifespan state."""
    context: ApiContext = request.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def get_live(request: Request) -> LiveView:
    """The live view, from the lifespan state; 503 until it has read the open alerts."""
    live: LiveView = request.state.live
    if not live.loaded:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the open alerts are not read yet (is the state database reachable?)",
        )
    return live


def get_changes(request: Request) -> Changes:
    """The change notifier of the live view, from the lifespan state."""
    changes: Changes = request.state.changes
    return changes


Live = Annotated[LiveView, Depends(get_live)]
LiveChanges = Annotated[Changes, Depends(get_changes)]


SESSION_COOKIE = "ioc_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def require(needed: Role) -> Callable[..., Principal]:
    """A dependency that admits a caller whose role includes `needed`: an API token
    (`Authorization: Bearer`, or `?token=` for the wall's screen) or a person's session cookie,
    which must carry its CSRF token in a header to change anything (401 / 403 otherwise)."""

    def check(
        request: Request,
        context: Context,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        address = throttled_address(request, context)
        # The wall may carry its viewer token in the URL (a screen has no one to type it).
        secret = credentials.credentials if credentials else request.query_params.get("token")
        cookie = request.cookies.get(SESSION_COOKIE)
        if secret:
            caller = _token_caller(context, secret, address)
        elif cookie and context.accounts is not None:
            caller = _session_caller(context, cookie, request)
        else:
            caller = None
        if caller is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "sign in, or give a valid API token (Authorization: Bearer ...)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not caller.role.allows(needed):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {needed.value} role; yours is {caller.role}",
            )
        return caller

    return check


def throttled_address(request: Request, context: ApiContext) -> str:
    """The caller's address, once it may try a token or a password (429 while too many of its
    attempts failed)."""
    address = request.client.host if request.client else "unknown"
    wait_s = context.throttle.retry_after_s(address)
    if wait_s is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed attempts from {address}; try again in {wait_s} s",
            headers={"Retry-After": str(wait_s)},
        )
    return address


def _token_caller(context: ApiContext, secret: str, address: str) -> Principal | None:
    token = context.tokens.find(secret, context.clock())
    if token is None:
        context.throttle.failed(address)
        return None
    return Principal.of_token(token)


def _session_caller(context: ApiContext, cookie: str, request: Request) -> Principal | None:
    """The person of a session cookie. A cookie goes with every request the browser sends,
    another site's too: what changes something must also carry the session's CSRF token,
    which only this site's pages can read."""
    assert context.accounts is not None
    session = context.accounts.session(cookie)
    if session is None:
        return None  # ended or expired: not a guess (256 random bits), so not throttled
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a signed-in request that changes something needs the {CSRF_HEADER} header"
                " (from the sign-in's answer or GET /api/v1/me)",
            )
    return Principal.of_session(session)


# A database row id: SQL integers are 64-bit, and a larger number must be a 422, not a 500.
RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


class Problem(BaseModel):
    """An error: what went wrong, as text (or, for malformed input, the fields at fault)."""

    detail: str | list[dict[str, Any]]


_PROBLEMS = {
    401: "not signed in, and no valid token",
    429: "too many failed attempts from this address (see Retry-After)",
    403: "the caller's role is not enough, or a signed-in change without its CSRF token",
    404: "no such thing",
    409: "not possible in the current state",
    422: "the input is not valid",
    503: "a store behind the API does not answer",
}


def told_to(request: Request, message: object) -> str:
    """A message (or an error) in the language the request asks for (`?lang=`, else
    Accept-Language) when it was `said(...)`; as written (English) to a client that asks for
    none, as scripts do."""
    asked = request.query_params.get("lang") or request.headers.get("accept-language")
    if not asked:
        return str(message)
    return Speech(chosen_language(asked, "en"), UTC).tell(message)


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route may give."""
    return {code: {"model": Problem, "description": _PROBLEMS[code]} for code in codes}


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def origin_of(request: Request) -> str:
    """Where a request came from, as the audit trail says it: `api 10.0.0.7`."""
    return f"api {request.client.host if request.client is not None else '?'}"


# Who acts, and from where (the audit trail's actor and origin), with that role at least.
# Module-level functions: FastAPI reads their annotations by name.
def _operator(request: Request, principal: Operator) -> Caller:
    return Caller(principal.actor, origin_of(request))


def _admin(request: Request, principal: Admin) -> Caller:
    return Caller(principal.actor, origin_of(request))


OperatorCaller = Annotated[Caller, Depends(_operator)]
AdminCaller = Annotated[Caller, Depends(_admin)]


def _reader(
    context: Context,
    lang: Annotated[
        Language | None,
        Query(description="vi or en, for texts meant for people; default: Accept-Language"),
    ] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Speech:
    """Who reads the answer: the language asked (`lang`, else `Accept-Language`, else the
    deployment's IOC_LANGUAGE) and the deployment's zone."""
    return Speech(lang or chosen_language(accept_language, context.language), context.zone)


# The language and zone of an answer's texts meant for people (titles, headers, pages).
Reader = Annotated[Speech, Depends(_reader)]
