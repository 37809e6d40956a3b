"""Notifications: what was sent to whom, how, and how delivery went."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from ioc.api.deps import Context, Viewer, problems
from ioc.domain import Notification, NotificationStatus

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", responses=problems(503))
def list_notifications(
    context: Context,
    _caller: Viewer,
    state: Annotated[list[NotificationStatus] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Notification]:
    """Newest first, by status (repeatable): queued, sending, sent, failed, held, skipped."""
    if context.outbox is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no notification outbox")
    return context.outbox.listing(state or (), limit)
