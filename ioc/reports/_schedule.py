"""When a scheduled report is due: the week or month that ended last, in the local time zone,
sent from `at` (local time) on the first day after it."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

from ioc.reports._availability import Period


def due_period(every: str, at: str, zone: tzinfo, now_ms: int) -> Period:
    """The period whose report is due at `now_ms`: the week (Monday to Monday) or month that
    ended last, once its sending time has come; before that, the one before it (so a report
    missed while ioc was down goes out when it is back, until the next one is due)."""
    now = datetime.fromtimestamp(now_ms / 1000, zone)
    hour, minute = (int(part) for part in at.split(":"))
    end = _start_of(every, now)
    if now < datetime.combine(end.date(), time(hour, minute), zone):
        end = _step_back(every, end)
    start = _step_back(every, end)
    return Period(int(start.timestamp() * 1000), int(end.timestamp() * 1000))


def _start_of(every: str, moment: datetime) -> datetime:
    midnight = datetime.combine(moment.date(), time(), moment.tzinfo)
    if every == "week":
        return midnight - timedelta(days=midnight.weekday())
    return midnight.replace(day=1)


def _step_back(every: str, boundary: datetime) -> datetime:
    """The boundary one period earlier (local midnights: a DST change stays a midnight)."""
    if every == "week":
        day = boundary.date() - timedelta(days=7)
    else:
        day = (boundary.date() - timedelta(days=1)).replace(day=1)
    return datetime.combine(day, time(), boundary.tzinfo)
