"""Liveness and readiness, for load balancers and service managers (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ioc.api.deps import Context
from ioc.domain import DeliveryError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "something it needs does not answer"}})
def readyz(context: Context) -> JSONResponse:
    """The state database, the broker and the telemetry store answer (503 and which not);
    `needs_operator` lists work a store refused in this process (integrity errors)."""
    try:
        context.alerts.last_event_id()
        failures = {}
    except DeliveryError as exc:
        failures = {"state_db": str(exc)}
    failures |= {name: error for name, probe in context.probes.items() if (error := probe())}
    # Work a store refused (an integrity error): the process still serves, but someone must
    # look; it is reported here until the process restarts.
    attention = {name: error for name, probe in context.attention.items() if (error := probe())}
    extra = {"needs_operator": attention} if attention else {}
    if failures:
        body = {"status": "not ready", "failing": failures, **extra}
        return JSONResponse(body, status_code=503)
    checked = ["state_db", *sorted(context.probes)]
    return JSONResponse({"status": "ready", "checked": checked, **extra})
