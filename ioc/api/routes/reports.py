"""Reports: availability of devices and groups over a period, as JSON or CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, HTTPException, Query, Response, status

from ioc.api.deps import Context, Viewer, problems
from ioc.reports import Period, ReportError, Scope, rows_csv, rows_xlsx

router = APIRouter(prefix="/reports", tags=["reports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ms(moment: datetime) -> int:
    """Epoch ms; a time without a zone is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@router.get("/availability", response_class=Response, responses=problems(404))
def availability(
    context: Context,
    _caller: Viewer,
    start: Annotated[datetime, Query(alias="from", description="ISO 8601; no zone: UTC")],
    end: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
    by: Annotated[str, Query(max_length=32)] = "area",
    area: Annotated[str | None, Query(max_length=64)] = None,
    device_class: Annotated[str | None, Query(alias="class", max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    output: Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")] = "json",
) -> Response:
    """Availability, outages, maintenance, MTTA and MTTR per group (`by`: device, area, class,
    tag, all, or an area kind) of the devices in scope (docs/reports.md): 422 for a backwards
    period, an unknown area or grouping."""
    if context.reports is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this API makes no reports")
    try:
        period = Period(_ms(start), _ms(end) if end is not None else context.clock())
        found = context.reports(period, Scope(area, device_class, tag), by)
    except (ValueError, ReportError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    rows = [figures.row() for figures in found]
    if output == "json":
        return Response(orjson.dumps(rows), media_type="application/json")
    disposition = {"Content-Disposition": f'attachment; filename="availability-{by}.{output}"'}
    if output == "csv":
        return Response(rows_csv(rows), media_type="text/csv", headers=disposition)
    workbook = rows_xlsx(rows, f"Availability by {by}, {period.describe()}", "availability")
    return Response(workbook, media_type=XLSX, headers=disposition)
