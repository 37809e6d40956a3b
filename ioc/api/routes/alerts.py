"""Alerts: list, one with its history and children, and what operators do to them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ioc.alerts import (
    AlertFilter,
    act_on_alert,
    alert_detail,
    find_alerts,
    states_named,
)
from ioc.api._context import ApiContext
from ioc.api._models import AlertPublic
from ioc.api.deps import Context, OperatorCaller, RowId, Viewer, problems
from ioc.domain import ActionOutcome, AlertAction, Caller, Severity

router = APIRouter(prefix="/alerts", tags=["alerts"])


class Transition(BaseModel):
    """One entry of an alert's history."""

    event: str
    at_ms: int
    actor: str
    note: str


class AlertDetail(BaseModel):
    """An alert, its history, and the open alerts grouped under it."""

    alert: AlertPublic
    history: list[Transition]
    children: list[AlertPublic]


class AlertPage(BaseModel):
    """A page of alerts, newest first."""

    items: list[AlertPublic]
    limit: int
    offset: int


class ActionBody(BaseModel):
    """What the operator says with the action."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


# An acknowledgement or a resolution may come without a body: the note is optional.
OptionalBody = Annotated[ActionBody | None, Body()]
# The states a list may ask for, as the CLI's --state: `open` is firing or acknowledged.
StateName = Literal["firing", "acknowledged", "resolved", "open"]


ACTION_STATUS = {
    ActionOutcome.DONE: status.HTTP_200_OK,
    ActionOutcome.QUEUED: status.HTTP_202_ACCEPTED,
    ActionOutcome.UNKNOWN_ALERT: status.HTTP_404_NOT_FOUND,
    ActionOutcome.NOT_OPEN: status.HTTP_409_CONFLICT,
    ActionOutcome.REFUSED: status.HTTP_409_CONFLICT,
}


@router.get("", responses=problems(404))
def list_alerts(
    context: Context,
    _caller: Viewer,
    state: Annotated[list[StateName] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    area: Annotated[str | None, Query(max_length=64)] = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AlertPage:
    """Alerts newest first, by state (`open`: firing or acknowledged), severity, area subtree
    and device (a device's history: its alerts, whatever became of them)."""
    query = AlertFilter(
        states_named(state or ()), frozenset(severity or ()), area, limit, offset, device
    )
    found = find_alerts(context.alerts, context.inventory(), query)
    return AlertPage(items=[AlertPublic.of(a) for a in found], limit=limit, offset=offset)


@router.get("/{alert_id}", responses=problems(404))
def get_alert(alert_id: RowId, context: Context, _caller: Viewer) -> AlertDetail:
    """One alert with its history and the alerts it caused."""
    detail = alert_detail(context.alerts, alert_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return AlertDetail(
        alert=AlertPublic.of(detail.alert),
        history=[
            Transition(event=t.kind.value, at_ms=t.at_ms, actor=t.actor, note=t.note)
            for t in detail.history
        ],
        children=[AlertPublic.of(a) for a in detail.children],
    )


def _respond(
    context: ApiContext, alert_id: int, action: AlertAction, caller: Caller, note: str
) -> JSONResponse:
    """Have the rules process do it, and answer with what came of it."""
    result = act_on_alert(
        context.alerts, action, alert_id, caller, note, context.clock(), context.request_wait_s,
        context.trail(),
    )  # fmt: skip
    code = ACTION_STATUS[result.outcome]
    if code >= 400:
        raise HTTPException(code, result.detail)
    return JSONResponse({"request_id": result.request_id, "status": result.outcome.value}, code)


@router.post("/{alert_id}/ack", responses={202: {}, **problems(404, 409)})
def acknowledge(
    alert_id: RowId, context: Context, caller: OperatorCaller, body: OptionalBody = None
) -> JSONResponse:
    """Acknowledge: someone has taken it on (the token's name is recorded); the note is
    optional, and so is the body."""
    note = body.note if body is not None else ""
    return _respond(context, alert_id, AlertAction.ACKNOWLEDGE, caller, note)


@router.post("/{alert_id}/note", responses={202: {}, **problems(404, 409)})
def note(
    alert_id: RowId, body: ActionBody, context: Context, caller: OperatorCaller
) -> JSONResponse:
    """Add a note to the alert's history."""
    return _respond(context, alert_id, AlertAction.NOTE, caller, body.note)


@router.post("/{alert_id}/resolve", responses={202: {}, **problems(404, 409)})
def resolve(
    alert_id: RowId, context: Context, caller: OperatorCaller, body: OptionalBody = None
) -> JSONResponse:
    """Resolve by hand (raised anew if its condition still holds); the body is optional."""
    note = body.note if body is not None else ""
    return _respond(context, alert_id, AlertAction.RESOLVE, caller, note)
