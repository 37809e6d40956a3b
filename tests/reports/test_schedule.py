"""Which week or month a scheduled report covers, at the moments around its sending time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ioc.reports import due_period

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def ms(text: str, zone: ZoneInfo = HANOI) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp() * 1000)


def test_a_monthly_report_covers_the_month_ended_once_its_time_has_come() -> None:
    november = (ms("2026-11-01T00:00"), ms("2026-12-01T00:00"))
    october = (ms("2026-10-01T00:00"), ms("2026-11-01T00:00"))
    for now, covered in [
        ("2026-12-01T07:00", november),  # sent at 07:00 on the 1st
        ("2026-12-20T12:00", november),  # still the one due (once, by its key)
        ("2026-12-01T06:59", october),  # not yet: the month before is the one due
        ("2027-01-01T06:00", november),
    ]:
        period = due_period("month", "07:00", HANOI, ms(now))
        assert (period.start_ms, period.end_ms) == covered, now


def test_a_weekly_report_covers_monday_to_monday_across_a_new_year() -> None:
    period = due_period("week", "08:30", HANOI, ms("2026-12-29T09:00"))  # a Tuesday
    assert (period.start_ms, period.end_ms) == (ms("2026-12-21T00:00"), ms("2026-12-28T00:00"))
    period = due_period("week", "08:30", HANOI, ms("2027-01-04T08:29"))  # Monday, too early
    assert (period.start_ms, period.end_ms) == (ms("2026-12-21T00:00"), ms("2026-12-28T00:00"))
    period = due_period("week", "08:30", HANOI, ms("2027-01-04T08:30"))
    assert (period.start_ms, period.end_ms) == (ms("2026-12-28T00:00"), ms("2027-01-04T00:00"))


def test_local_midnights_across_a_summer_time_change() -> None:
    paris = ZoneInfo("Europe/Paris")  # March 2027 is 31 days less the hour clocks go forward
    period = due_period("month", "07:00", paris, ms("2027-04-01T07:00", paris))
    assert (period.start_ms, period.end_ms) == (
        ms("2027-03-01T00:00", paris), ms("2027-04-01T00:00", paris),
    )  # fmt: skip
    assert period.end_ms - period.start_ms == (31 * 24 - 1) * 3_600_000
