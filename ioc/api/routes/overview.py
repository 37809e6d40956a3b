"""The overview the wall's figure tiles show."""

from __future__ import annotations

from fastapi import APIRouter

from ioc.api._overview import compute_overview
from ioc.api.deps import Context, Viewer
from ioc.domain import AlertState

router = APIRouter(prefix="/overview", tags=["overview"])


@router.get("")
def overview(context: Context, _caller: Viewer) -> dict[str, object]:
    """Per class and area: devices, down, alerting; and the programme's figures (video-
    conference points online by area kind, BTS sites on mains / on battery / down, commune
    links up)."""
    open_alerts = context.alerts.list_alerts(
        [AlertState.FIRING, AlertState.ACKNOWLEDGED], limit=10_000_000
    )
    return compute_overview(context.inventory, open_alerts, context.rule_roles)
