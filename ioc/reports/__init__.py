"""Reports from what ioc records: availability of devices and groups over a period."""

from ioc.reports._availability import (
    Availability,
    Period,
    ReportError,
    Scope,
    availability,
    by_area,
    by_class,
    by_device,
    by_tag,
    grouping,
    overall,
)
from ioc.reports._export import XLSX_TYPE, rows_csv, rows_text, rows_xlsx
from ioc.reports._html import LANGUAGES, availability_html
from ioc.reports._incidents import Incidents, incidents
from ioc.reports._schedule import due_period

__all__ = [
    "LANGUAGES",
    "XLSX_TYPE",
    "Availability",
    "Incidents",
    "Period",
    "ReportError",
    "Scope",
    "availability",
    "availability_html",
    "by_area",
    "by_class",
    "by_device",
    "by_tag",
    "due_period",
    "grouping",
    "incidents",
    "overall",
    "rows_csv",
    "rows_text",
    "rows_xlsx",
]
