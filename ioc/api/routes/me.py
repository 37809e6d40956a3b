"""Who is asking, and how the deployment speaks to them: what the wall reads first."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from ioc.api.deps import Context, Viewer
from ioc.domain import Role

router = APIRouter(tags=["me"])


class Me(BaseModel):
    """The caller's name and role, and the deployment's zone and language."""

    name: str
    role: Role
    username: str | None  # a person's account; none for a token
    # A person's session: its end, and the token a change must carry in X-CSRF-Token.
    session_expires_at_ms: int | None
    csrf: str | None
    timezone: str  # IANA name: Asia/Ho_Chi_Minh
    utc_offset: str  # now, in that zone: +07:00
    language: Literal["vi", "en"]  # the deployment's default; a person may choose the other


@router.get("/me")
def me(context: Context, caller: Viewer) -> Me:
    """The caller (a token or a signed-in person) and how times and texts are shown to them:
    the wall formats every time in `timezone` whatever the browser's own zone."""
    moment = datetime.fromtimestamp(context.clock() / 1000, context.zone)
    session = caller.session
    return Me(
        name=caller.name,
        role=caller.role,
        username=session.account.username if session else None,
        session_expires_at_ms=session.expires_at_ms if session else None,
        csrf=session.csrf if session else None,
        timezone=str(context.zone),
        utc_offset=moment.isoformat()[-6:],
        language=context.language,
    )
