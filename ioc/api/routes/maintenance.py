"""Maintenance windows: alerts inside are recorded, marked silenced, not notified."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ioc.alerts import end_window as end_window_now
from ioc.alerts import plan_window
from ioc.api.deps import Context, OperatorCaller, RowId, Viewer, problems
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
def create_window(body: WindowCreate, context: Context, caller: OperatorCaller) -> WindowPublic:
    """Plan a window (the running rules process applies it within 10 s)."""
    window = MaintenanceWindow(
        0, body.scope, body.target, body.starts_at_ms, body.ends_at_ms, body.reason, caller.name
    )
    rule_ids = context.rules().ids if context.rules else None
    planned = plan_window(
        context.alerts, context.inventory(), rule_ids, window, context.clock(), caller,
        context.trail(),
    )  # fmt: skip
    return _public(planned)


@router.post("/{window_id}/end", responses=problems(404))
def end_window(window_id: RowId, context: Context, caller: OperatorCaller) -> WindowPublic:
    """End a window now."""
    ended = end_window_now(context.alerts, window_id, context.clock(), caller, context.trail())
    return _public(ended)
