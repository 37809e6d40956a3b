"""Notifications: what was sent to whom, how, and how delivery went."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from ioc.api.deps import Context, Viewer, problems
from ioc.domain import NotificationKind, NotificationStatus

router = APIRouter(prefix="/notifications", tags=["notifications"])


class NotificationPublic(BaseModel):
    """One notification and its delivery so far."""

    id: int
    key: str
    kind: NotificationKind
    alert_id: int | None
    person_id: str
    channel: str
    via: str
    status: NotificationStatus
    attempts: int
    created_at_ms: int
    due_ms: int
    sent_at_ms: int | None
    last_error: str | None
    body: str | None


@router.get("", responses=problems(503))
def list_notifications(
    context: Context,
    _caller: Viewer,
    state: Annotated[list[NotificationStatus] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[NotificationPublic]:
    """Newest first, by status (repeatable): queued, sending, sent, failed, held, skipped."""
    if context.outbox is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no notification outbox")
    return [
        NotificationPublic(**dataclasses.asdict(n))
        for n in context.outbox.listing(state or (), limit)
    ]
