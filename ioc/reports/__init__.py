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
from ioc.reports._export import rows_csv, rows_xlsx
from ioc.reports._html import LANGUAGES, availability_html
from ioc.reports._incidents import Incidents, incidents

__all__ = [
    "LANGUAGES",
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
    "grouping",
    "incidents",
    "overall",
    "rows_csv",
    "rows_xlsx",
]
