"""The overview the wall's figure tiles show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ioc.api._responses import snapshot_response
from ioc.api.deps import Live, Viewer

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
