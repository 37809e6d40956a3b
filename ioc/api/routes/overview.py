"""The overview the wall's figure tiles show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ioc.api._overview import trend
from ioc.api._responses import snapshot_response
from ioc.api.deps import Context, Live, Viewer

router = APIRouter(prefix="/overview", tags=["overview"])


@router.get("", response_class=Response, responses={200: {"content": {"application/json": {}}}})
def overview(
    request: Request,
    live: Live,
    _caller: Viewer,
    area_depth: Annotated[int | None, Query(ge=1, le=16)] = None,
) -> Response:
    """Per class and area (down to `area_depth` levels, all by default): devices, down,
    alerting; the programme's figures (video-conference points online by area kind, BTS sites
    on mains / on battery / down, commune links up); and the stream event id it is current to."""
    return snapshot_response(request, live.overview_json(area_depth), "application/json")


@router.get("/trend")
def overview_trend(
    context: Context,
    _caller: Viewer,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
    step_min: Annotated[int, Query(ge=1, le=24 * 60)] = 10,
) -> list[dict[str, object]]:
    """The programme's figures over the last `hours`, every `step_min` minutes (the wall's
    trend strip): links up, VC points online, BTS on battery, each with its total."""
    now = context.clock()
    step = step_min * 60_000
    start = now - hours * 3_600_000
    times = list(range(now - (now - start) // step * step, now + 1, step))
    roles = context.rule_roles()
    rule_ids = roles.down | roles.power | roles.link
    spans = context.alerts.spans(rule_ids, start, now + 1)
    return trend(context.inventory(), spans, roles, times)
