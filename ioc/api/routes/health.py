"""Liveness and readiness, for load balancers and service managers (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ioc.api.deps import Context
from ioc.state import StateError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "something it needs does not answer"}})
def readyz(context: Context) -> JSONResponse:
    """The state database, the broker and the telemetry store answer (503 and which not)."""
    try:
        context.alerts.last_event_id()
        failures = {}
    except StateError as exc:
        failures = {"state_db": str(exc)}
    failures |= {name: error for name, probe in context.probes.items() if (error := probe())}
    if failures:
        return JSONResponse({"status": "not ready", "failing": failures}, status_code=503)
    return JSONResponse({"status": "ready", "checked": ["state_db", *sorted(context.probes)]})
