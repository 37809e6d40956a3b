"""Meetings of the video-conference network: plan them, see which points are ready, and how each
point did (viewer to read, operator to plan or cancel)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ioc.api._context import MeetingKeeper
from ioc.api.deps import Context, OperatorCaller, RowId, Viewer, problems
from ioc.domain import Meeting

router = APIRouter(prefix="/meetings", tags=["meetings"])


class MeetingPlan(BaseModel):
    """A meeting to plan: its points from a list, or a class (vc by default) in an area."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    starts_at: datetime
    duration_min: int = Field(gt=0, le=24 * 60)
    area: str | None = Field(default=None, max_length=64)
    device_class: str | None = Field(default=None, alias="class", max_length=64)
    points: list[str] | None = Field(default=None, max_length=10_000)


class MeetingPublic(BaseModel):
    """A planned meeting."""

    id: int
    title: str
    starts_at_ms: int
    ends_at_ms: int
    points: list[str]
    scope: str
    created_by: str


class PointReady(BaseModel):
    """One point: ready, or what keeps it from being."""

    point: str
    ready: bool
    reasons: list[str]


class Readiness(BaseModel):
    """The readiness board of a meeting."""

    meeting: MeetingPublic
    ready: int
    points: int
    board: list[PointReady]


def _public(meeting: Meeting) -> MeetingPublic:
    return MeetingPublic(
        id=meeting.id, title=meeting.title, starts_at_ms=meeting.starts_at_ms,
        ends_at_ms=meeting.ends_at_ms, points=list(meeting.points), scope=meeting.scope,
        created_by=meeting.created_by,
    )  # fmt: skip


def _desk(context: Context) -> MeetingKeeper:
    if context.meetings is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this API keeps no meetings")
    return context.meetings


@router.get("", responses=problems(404))
def list_meetings(
    context: Context,
    _caller: Viewer,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
) -> list[MeetingPublic]:
    """Meetings from now on (those under way included), by start."""
    now = context.clock()
    return [_public(m) for m in _desk(context).between(now, now + days * 86_400_000)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=problems(404))
def plan_meeting(context: Context, caller: OperatorCaller, plan: MeetingPlan) -> MeetingPublic:
    """Plan a meeting; 422 for points the inventory does not have or an empty scope."""
    planned = _desk(context).plan(
        plan.title, context.epoch_ms(plan.starts_at), plan.duration_min * 60_000,
        caller, plan.area, plan.device_class, plan.points,
        now_ms=context.clock(),
    )  # fmt: skip
    return _public(planned)


@router.get("/{meeting_id}/readiness", responses=problems(404))
def meeting_readiness(context: Context, _caller: Viewer, meeting_id: RowId) -> Readiness:
    """N/M points ready now, and the open alerts that keep the others from being."""
    meeting, points = _desk(context).readiness(meeting_id)
    board = [PointReady(point=p.device_id, ready=p.ready, reasons=list(p.reasons)) for p in points]
    return Readiness(
        meeting=_public(meeting), ready=sum(p.ready for p in points), points=len(points),
        board=board,
    )  # fmt: skip


@router.get("/{meeting_id}/report", responses=problems(404, 409))
def meeting_report(context: Context, _caller: Viewer, meeting_id: RowId) -> list[dict[str, object]]:
    """Per point: connected minutes, drops, minutes out, quality alerts during the meeting;
    409 for a meeting cancelled or not begun."""
    _meeting, rows = _desk(context).report(meeting_id, context.clock())
    return rows
