"""The rule set: which rules are in force, and reloading them (admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from ioc.api.deps import AdminCaller, Context, Viewer, problems

router = APIRouter(prefix="/rules", tags=["rules"])


class RuleIds(BaseModel):
    """The ids of the rules in force."""

    ids: list[str]


class ReloadResult(BaseModel):
    """What a reload request did."""

    detail: str


@router.get("")
def list_rules(context: Context, _caller: Viewer) -> RuleIds:
    """The rules in force (a reload shows here within a second)."""
    return RuleIds(ids=sorted(context.rules().ids) if context.rules else [])


@router.post("/reload", status_code=status.HTTP_202_ACCEPTED, responses=problems(409))
def reload_rules(context: Context, caller: AdminCaller) -> ReloadResult:
    """Check the rule files and the notification file and ask every process to reload them:
    202 when asked, 422 with every mistake when the files are bad, 409 when no rules process
    runs."""
    control = context.rules() if context.rules is not None else None
    if control is None or control.reload is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this API cannot reload rules")
    return ReloadResult(detail=control.reload(caller))
