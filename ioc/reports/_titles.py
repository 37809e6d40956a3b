"""What a report is called, as people read it: its kind, grouping and period in the reader's
language and zone."""

from __future__ import annotations

from ioc.i18n import Speech, mark
from ioc.reports._availability import Period

_TITLES = {
    "availability": mark("Availability by {by}, {period}"),
    "power": mark("BTS power by {by}, {period}"),
    "links": mark("Links by {by}, {period}"),
    "online": mark("Online by {by} at {moment}"),
}
# The groupings a report can make, and the area kinds of the bundled inventories.
_GROUPINGS = {
    "device": mark("device"), "area": mark("area"), "class": mark("device class"),
    "tag": mark("tag"), "all": mark("all devices"), "province": mark("province"),
    "district": mark("district"), "commune": mark("commune"), "department": mark("department"),
}  # fmt: skip


def grouping_label(by: str, speech: Speech) -> str:
    """A grouping as people say it (an area kind an inventory made up: as it is written)."""
    return speech.say(_GROUPINGS[by]) if by in _GROUPINGS else by


def period_text(period: Period, speech: Speech) -> str:
    """2026-11-01 00:00+07:00 to 2026-12-01 00:00+07:00, and for a period cut at now,
    ... (now; asked to 2027-01-01 00:00+07:00)."""
    start, end = period.bounds(speech.zone)
    told = speech.say("{start} to {end}", start=start, end=end)
    if period.asked_end_ms is None:
        return told
    asked = Period(period.start_ms, period.asked_end_ms).bounds(speech.zone)[1]
    return told + " " + speech.say("(now; asked to {end})", end=asked)


def report_title(kind: str, by: str, period: Period, speech: Speech) -> str:
    """Availability by district, 2026-11-01 00:00+07:00 to 2026-12-01 00:00+07:00; for
    `online`, the moment of a one-millisecond period."""
    moment = period.bounds(speech.zone)[0]
    return speech.say(
        _TITLES[kind],
        by=grouping_label(by, speech),
        period=period_text(period, speech),
        moment=moment,
    )
