"""Alerts: list, one with its history and children, and what operators do to them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ioc.alerts import alert_json
from ioc.api._context import ApiContext, carry_out
from ioc.api.deps import Context, Operator, RowId, Viewer, problems
from ioc.domain import AlertState, Severity

router = APIRouter(prefix="/alerts", tags=["alerts"])


class AlertPublic(BaseModel):
    """An alert as the API shows it."""

    model_config = ConfigDict(extra="allow")

    id: int
    rule: str
    device_id: str
    device_class: str
    area_id: str
    state: AlertState
    severity: Severity
    probable_cause: str
    event_type: str
    root_id: int | None
    silenced: bool
    opened_at: str
    updated_at: str
    resolved_at: str | None


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


@router.get("", responses=problems(404))
def list_alerts(
    context: Context,
    _caller: Viewer,
    state: Annotated[list[AlertState] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    area: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AlertPage:
    """Alerts newest first, by state, severity and area subtree."""
    area_ids = None
    if area is not None:
        if area not in context.inventory.areas:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no area {area!r}")
        area_ids = list(context.inventory.subtree(area))
    found = context.alerts.list_alerts(state or (), severity or (), area_ids, limit + offset)
    items = [AlertPublic.model_validate(alert_json(a)) for a in found[offset:]]
    return AlertPage(items=items, limit=limit, offset=offset)


@router.get("/{alert_id}", responses=problems(404))
def get_alert(alert_id: RowId, context: Context, _caller: Viewer) -> AlertDetail:
    """One alert with its history and the alerts it caused."""
    history = context.alerts.history(alert_id)
    if not history:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    children = context.alerts.children(alert_id)
    return AlertDetail(
        alert=AlertPublic.model_validate(alert_json(history[0].alert)),
        history=[
            Transition(event=t.kind.value, at_ms=t.at_ms, actor=t.actor, note=t.note)
            for t in history
        ],
        children=[AlertPublic.model_validate(alert_json(a)) for a in children],
    )


def _act(context: ApiContext, alert_id: RowId, action: str, actor: str, note: str) -> JSONResponse:
    """Have the rules process do it, and say what came of it."""
    request_id, result = carry_out(context, alert_id, action, actor, note)
    if result is None:
        return JSONResponse(
            {"request_id": request_id, "status": "queued"}, status.HTTP_202_ACCEPTED
        )
    if result != "ok":
        code = status.HTTP_404_NOT_FOUND if result.startswith("no open alert") else 409
        raise HTTPException(code, result)
    return JSONResponse({"request_id": request_id, "status": "done"})


@router.post("/{alert_id}/ack", responses={202: {}, **problems(404, 409)})
def acknowledge(
    alert_id: RowId, body: ActionBody, context: Context, caller: Operator
) -> JSONResponse:
    """Acknowledge: someone has taken it on (the token's name is recorded)."""
    return _act(context, alert_id, "ack", caller.name, body.note)


@router.post("/{alert_id}/note", responses={202: {}, **problems(404, 409)})
def note(alert_id: RowId, body: ActionBody, context: Context, caller: Operator) -> JSONResponse:
    """Add a note to the alert's history."""
    return _act(context, alert_id, "note", caller.name, body.note)


@router.post("/{alert_id}/resolve", responses={202: {}, **problems(404, 409)})
def resolve(alert_id: RowId, body: ActionBody, context: Context, caller: Operator) -> JSONResponse:
    """Resolve by hand (raised anew if its condition still holds)."""
    return _act(context, alert_id, "resolve", caller.name, body.note)
