"""Liveness and readiness, for load balancers and service managers (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from ioc.api.deps import Context
from ioc.state import StateError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(context: Context) -> dict[str, str]:
    """The state database answers (503 otherwise)."""
    try:
        context.alerts.list_alerts(limit=1)
    except StateError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return {"status": "ready"}
