"""Maintenance windows: alerts inside are recorded, marked silenced, not notified."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ioc.alerts import AlertError, check_window
from ioc.api.deps import Context, Operator, RowId, Viewer, problems
from ioc.domain import MaintenanceWindow, WindowScope

router = APIRouter(prefix="/maintenance", tags=["maintenance"])


class WindowCreate(BaseModel):
    """A window to plan; times are epoch milliseconds."""

    model_config = ConfigDict(extra="forbid")

    scope: WindowScope
    target: str = Field(min_length=1, max_length=64)
    starts_at_ms: int = Field(ge=0)
    ends_at_ms: int = Field(ge=0)
    reason: str = Field(min_length=1, max_length=2000)


class WindowPublic(WindowCreate):
    """A planned window."""

    model_config = ConfigDict(extra="forbid")

    id: int
    created_by: str
    ended_at_ms: int | None


def _public(window: MaintenanceWindow) -> WindowPublic:
    return WindowPublic(
        id=window.id,
        scope=window.scope,
        target=window.target,
        starts_at_ms=window.starts_at_ms,
        ends_at_ms=window.ends_at_ms,
        reason=window.reason,
        created_by=window.created_by,
        ended_at_ms=window.ended_at_ms,
    )


@router.get("")
def list_windows(
    context: Context,
    _caller: Viewer,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[WindowPublic]:
    """Windows in force or planned."""
    return [_public(w) for w in context.alerts.current_windows(context.clock())[:limit]]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_window(body: WindowCreate, context: Context, caller: Operator) -> WindowPublic:
    """Plan a window (the running rules process applies it within 10 s)."""
    window = MaintenanceWindow(
        0,
        body.scope,
        body.target,
        body.starts_at_ms,
        body.ends_at_ms,
        body.reason,
        caller.name,
    )
    try:
        check_window(window, context.inventory)
    except AlertError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    known_rules = context.rules.ids if context.rules else None
    if (
        body.scope is WindowScope.RULE
        and known_rules is not None
        and body.target not in known_rules
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"no rule {body.target!r} in force"
        )
    if body.ends_at_ms <= context.clock():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "that window ended already")
    return _public(context.alerts.add_window(window))


@router.post("/{window_id}/end", responses=problems(404))
def end_window(window_id: RowId, context: Context, _caller: Operator) -> WindowPublic:
    """End a window now."""
    ended = context.alerts.end_window(window_id, context.clock())
    if ended is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no open maintenance window {window_id}")
    return _public(ended)
