"""Reports from what ioc records: availability of devices and groups over a period."""

from ioc.reports._availability import (
    Availability,
    BadPeriod,
    MeetingClosed,
    Period,
    ReportError,
    Scope,
    UnknownMeeting,
    Watched,
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
from ioc.reports._meetings import (
    ALERT_LEAD_MS,
    MEETING_RULE,
    QUALITY_RULES,
    READY_LEAD_MS,
    WORST_QUALITY,
    PointReadiness,
    choose_points,
    meeting_rows,
    readiness,
    readiness_signals,
)
from ioc.reports._schedule import due_period
from ioc.reports._telemetry import summaries_by_group

__all__ = [
    "ALERT_LEAD_MS",
    "LANGUAGES",
    "MEETING_RULE",
    "QUALITY_RULES",
    "READY_LEAD_MS",
    "WORST_QUALITY",
    "XLSX_TYPE",
    "Availability",
    "BadPeriod",
    "Incidents",
    "MeetingClosed",
    "Period",
    "PointReadiness",
    "ReportError",
    "Scope",
    "UnknownMeeting",
    "Watched",
    "availability",
    "availability_html",
    "by_area",
    "by_class",
    "by_device",
    "by_tag",
    "choose_points",
    "due_period",
    "grouping",
    "incidents",
    "meeting_rows",
    "overall",
    "readiness",
    "readiness_signals",
    "rows_csv",
    "rows_text",
    "rows_xlsx",
    "summaries_by_group",
]
