"""Reports: availability over a period and who was online at a moment, per group, as JSON, CSV
or an XLSX workbook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, HTTPException, Query, Response, status

from ioc.api._context import ApiContext
from ioc.api.deps import Context, Reader, Viewer, problems
from ioc.domain import iso_utc
from ioc.i18n import Speech
from ioc.reports import (
    XLSX_TYPE,
    Availability,
    Period,
    ReportError,
    Scope,
    report_title,
    rows_csv,
    rows_xlsx,
)

router = APIRouter(prefix="/reports", tags=["reports"])

Output = Literal["json", "csv", "xlsx"]
By = Annotated[str, Query(max_length=32, description="device, area, class, tag, all, an area kind")]
AreaId = Annotated[str | None, Query(max_length=64)]
DeviceClass = Annotated[str | None, Query(alias="class", max_length=64)]
Tag = Annotated[str | None, Query(max_length=64)]
MapAt = Annotated[
    datetime | None,
    Query(description="Place devices by area on the map in effect then (before a reform)."),
]
Format = Annotated[Output, Query(alias="format")]


def _answer(
    context: Context,
    period: Callable[[], Period],
    scope: Scope,
    by: str,
    row: Callable[[Availability], dict[str, object]],
    kind: str,
    output: Output,
    reader: Speech,
) -> Response:
    if context.reports is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this API makes no reports")
    asked = period()
    rows = [row(figures) for figures in context.reports(asked, scope, by)]
    counted = {"X-Report-Period": _interval(asked)}
    if output == "json":
        return Response(orjson.dumps(rows), media_type="application/json", headers=counted)
    headers = counted | {"Content-Disposition": f'attachment; filename="{kind}-{by}.{output}"'}
    if output == "csv":
        return Response(rows_csv(rows), media_type="text/csv", headers=headers)
    title = report_title(kind, by, asked, reader)
    return Response(rows_xlsx(rows, title, reader, kind), media_type=XLSX_TYPE, headers=headers)


def _map_at(context: ApiContext, map_at: datetime | None) -> int | None:
    return context.epoch_ms(map_at) if map_at is not None else None


def _interval(period: Period) -> str:
    """The period as counted, an ISO 8601 interval (cut at now when it reached past it)."""
    return f"{iso_utc(period.start_ms)}/{iso_utc(period.end_ms)}"


@router.get("/availability", response_class=Response, responses=problems(404))
def availability(
    context: Context,
    _caller: Viewer,
    reader: Reader,
    start: Annotated[datetime, Query(alias="from", description="ISO 8601; no offset: local")],
    end: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
    by: By = "area",
    area: AreaId = None,
    device_class: DeviceClass = None,
    tag: Tag = None,
    map_at: MapAt = None,
    output: Annotated[Literal["json", "csv", "xlsx", "html"], Query(alias="format")] = "json",
) -> Response:
    """Availability, outages, maintenance, MTTA and MTTR per group of the devices in scope over
    a period (docs/reports.md), or `format=html`: the printable report with its chart; 422 for
    a backwards period, an unknown area or grouping."""

    def period() -> Period:
        now, begin = context.clock(), context.epoch_ms(start)
        # No end: up to now; a start after now is then refused by `up_to` for what it is.
        finish = context.epoch_ms(end) if end is not None else max(now, begin + 1)
        return Period(begin, finish).up_to(now, context.zone)

    scope = Scope(area, device_class, tag, _map_at(context, map_at))
    if output != "html":
        return _answer(context, period, scope, by, Availability.row, "availability", output, reader)
    if context.report_page is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this API makes no reports")
    page = context.report_page(period(), scope, by, reader)
    return Response(page, media_type="text/html; charset=utf-8")


@router.get("/online", response_class=Response, responses=problems(404))
def online(
    context: Context,
    _caller: Viewer,
    reader: Reader,
    at: Annotated[
        datetime | None, Query(description="ISO 8601; no offset: IOC_TIMEZONE; default: now")
    ] = None,
    by: By = "area",
    area: AreaId = None,
    device_class: DeviceClass = None,
    tag: Tag = None,
    map_at: MapAt = None,
    output: Format = "json",
) -> Response:
    """Per group, how many points were counted, online, out and out in maintenance at a
    moment ("235/241 commune points online at 08:00")."""

    def period() -> Period:
        now = context.clock()
        moment = context.epoch_ms(at) if at is not None else now
        if moment > now:
            raise ReportError("that moment is in the future: nobody knows yet who will be online")
        return Period(moment, moment + 1)

    scope = Scope(area, device_class, tag, _map_at(context, map_at))
    return _answer(context, period, scope, by, Availability.moment_row, "online", output, reader)
