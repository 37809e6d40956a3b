"""The audit trail: every operator's and admin's action, who, when, from where, before and
after (admin), as JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel

from ioc.api.deps import Admin, Context, problems
from ioc.domain import AuditEntry, change_text, iso_utc
from ioc.reports import rows_csv

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditPublic(BaseModel):
    """One action as the trail keeps it."""

    id: int
    at: str  # ISO 8601
    actor: str
    origin: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditPublic:
        """The API's form of an entry."""
        return cls(
            id=entry.id, at=iso_utc(entry.at_ms), actor=entry.actor, origin=entry.origin,
            action=entry.action, target=entry.target, before=entry.before, after=entry.after,
        )  # fmt: skip


@router.get(
    "",
    response_model=list[AuditPublic],
    responses={200: {"content": {"text/csv": {}}}, **problems(404)},
)
def audit_trail(
    context: Context,
    _caller: Admin,
    since: Annotated[datetime | None, Query(description="ISO 8601; no offset: local")] = None,
    until: Annotated[datetime | None, Query()] = None,
    actor: Annotated[str | None, Query(max_length=200, description="a part of the name")] = None,
    action: Annotated[str | None, Query(max_length=64, description="a prefix: alert.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Any:
    """Actions newest first: by time, by whose name holds `actor`, by `action` prefix (`alert.`
    for every action on alerts); `format=csv` for a spreadsheet (before and after as JSON)."""
    if context.audit is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this API keeps no audit trail")
    found = context.audit.find(
        context.epoch_ms(since) if since is not None else None,
        context.epoch_ms(until) if until is not None else None,
        actor, action, limit, offset,
    )  # fmt: skip
    entries = [AuditPublic.of(entry) for entry in found]
    if output == "json":
        return entries
    rows: list[dict[str, object]] = [
        public.model_dump(mode="json")
        | {"before": change_text(entry.before), "after": change_text(entry.after)}
        for public, entry in zip(entries, found, strict=True)
    ]
    headers = {"Content-Disposition": 'attachment; filename="audit.csv"'}
    return Response(rows_csv(rows), media_type="text/csv", headers=headers)
