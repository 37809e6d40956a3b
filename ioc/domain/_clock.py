"""The one wall clock: milliseconds since the epoch, the unit of every time ioc stores."""

from __future__ import annotations

import datetime
import time
import zoneinfo
from collections.abc import Callable
from datetime import tzinfo

# Anything that tells the time in epoch milliseconds: `now_ms`, a test's manual clock, the
# demo's accelerated clock.
Clock = Callable[[], int]


def now_ms() -> int:
    """Milliseconds since the epoch, now."""
    return time.time_ns() // 1_000_000


def iso_utc(ms: int) -> str:
    """An epoch-millisecond time as ISO 8601 in UTC: 2026-11-29T08:00:00.000Z."""
    return (
        datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


# Every province ioc is made for keeps Vietnam's time (UTC+7, no summer time).
DEFAULT_ZONE = "Asia/Ho_Chi_Minh"


def zone_named(name: str) -> tzinfo:
    """The IANA time zone `name` (Asia/Ho_Chi_Minh); ValueError saying so when none is known
    by that name (settings and files turn it into their error, naming the key)."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a known IANA time zone (Asia/Ho_Chi_Minh, UTC)") from exc


def local_text(ms: int, zone: tzinfo, seconds: bool = False) -> str:
    """How people read a time: 2026-11-01 08:00+07:00 (with `seconds`, 08:00:00+07:00)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, zone)
    offset = moment.isoformat()[-6:] if moment.utcoffset() else "Z"
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + offset


def epoch_ms_of(moment: datetime.datetime | datetime.date, zone: tzinfo) -> int:
    """Epoch ms of a time as people give it: one without an offset, or a bare date (its
    midnight), is a time in `zone`."""
    if not isinstance(moment, datetime.datetime):
        moment = datetime.datetime.combine(moment, datetime.time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return int(moment.timestamp() * 1000)


def month_bounds(month: str, zone: tzinfo) -> tuple[int, int]:
    """[start, end) in epoch ms of a month given as 2026-11, from midnight to midnight in
    `zone`; ValueError for a text that is not a month."""
    year, number = (int(part) for part in month.split("-"))
    first = datetime.date(year, number, 1)
    following = datetime.date(year + number // 12, number % 12 + 1, 1)
    return epoch_ms_of(first, zone), epoch_ms_of(following, zone)
