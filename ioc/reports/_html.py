"""The printable availability report: one self-contained HTML page (Vietnamese by default,
English on request) with its bar chart drawn as inline SVG, so it prints and archives without
any remote asset."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ioc.domain import local_text
from ioc.reports._availability import Availability, Period

LANGUAGES = ("vi", "en")
CHART_BARS = 40  # the worst groups; the table lists them all
_COLUMNS = (
    "group", "devices", "availability_pct", "outages", "outage_min", "maintenance_min",
    "unmonitored_min", "mtta_min", "mttr_min",
)  # fmt: skip
_LABELS = {
    "vi": {
        "title": "Báo cáo khả dụng", "by": "theo", "period": "Kỳ báo cáo", "to": "đến",
        "cut": "tính đến lúc lập; kỳ yêu cầu đến",
        "generated": "Lập lúc", "chart": "Khả dụng theo nhóm (thấp nhất trước)",
        "group": "Nhóm", "devices": "Thiết bị", "availability_pct": "Khả dụng %",
        "availability": "Khả dụng toàn bộ", "outages": "Số lần gián đoạn",
        "outage_min": "Gián đoạn (phút)", "maintenance_min": "Bảo trì (phút)",
        "unmonitored_min": "Không có dữ liệu (phút)",
        "mtta_min": "MTTA (phút)", "mttr_min": "MTTR (phút)",
        "definitions": "Gián đoạn: thời gian có cảnh báo mất kết nối, ngoài cửa sổ bảo trì. "
        "Khả dụng = 1 − gián đoạn / (thời gian tính − bảo trì). Thời gian IOC không giám sát "
        "(chưa nghe thấy thiết bị, IOC dừng hoặc mất kết nối) là không có dữ liệu: không tính.",
    },
    "en": {
        "title": "Availability report", "by": "by", "period": "Period", "to": "to",
        "cut": "counted up to now; asked to",
        "generated": "Generated", "chart": "Availability per group (lowest first)",
        "group": "Group", "devices": "Devices", "availability_pct": "Availability %",
        "availability": "Overall availability", "outages": "Outages",
        "outage_min": "Outage (min)", "maintenance_min": "Maintenance (min)",
        "unmonitored_min": "No data (min)",
        "mtta_min": "MTTA (min)", "mttr_min": "MTTR (min)",
        "definitions": "Outage: time with an outage alert open, outside maintenance windows. "
        "Availability = 1 - outage / (counted time - maintenance). Time ioc did not watch "
        "(a device never heard, ioc stopped or blind) is no data: not counted.",
    },
}  # fmt: skip
_ENVIRONMENT = Environment(
    loader=FileSystemLoader(Path(__file__).parent),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def availability_html(
    figures: Sequence[Availability],
    overall: Availability,
    by: str,
    period: Period,
    zone: tzinfo,
    lang: str = "vi",
    generated_at_ms: int | None = None,
) -> str:
    """The report page: the overall figures, a bar chart of the worst groups, every group;
    its times in `zone`."""
    if lang not in LANGUAGES:
        raise ValueError(f"no report language {lang!r}: choose {', '.join(LANGUAGES)}")
    rows = [f.row() for f in figures]
    measured = sorted(
        (r for r in rows if r["availability_pct"] is not None),
        key=lambda r: (float(str(r["availability_pct"])), str(r["group"])),
    )[:CHART_BARS]
    lowest = min((float(str(r["availability_pct"])) for r in measured), default=100.0)
    floor = min(99, math.floor(lowest) - 1 if lowest < 100 else 99)  # bars that differ
    left, span = 140, 420
    bars = [
        {
            "label": str(r["group"])[:22], "y": i * 20, "value": r["availability_pct"],
            "width": round((float(str(r["availability_pct"])) - floor) / (100 - floor) * span, 1),
            "tone": _tone(float(str(r["availability_pct"]))),
        }
        for i, r in enumerate(measured)
    ]  # fmt: skip
    moment = time.time() * 1000 if generated_at_ms is None else generated_at_ms
    words = _LABELS[lang]
    counted = f" {words['to']} ".join(period.bounds(zone))
    if period.asked_end_ms is not None:  # cut at the moment it was made: say so
        asked = Period(period.start_ms, period.asked_end_ms).bounds(zone)[1]
        counted += f" ({words['cut']} {asked})"
    return _ENVIRONMENT.get_template("availability.html.j2").render(
        lang=lang, t=words, by=by, period=counted,
        generated=local_text(int(moment), zone),
        overall=overall.row(), rows=rows, columns=_COLUMNS, bars=bars,
        chart={"left": left, "span": span, "width": left + span + 60,
               "height": len(bars) * 20 + 16, "floor": floor},
    )  # fmt: skip


def _tone(percent: float) -> str:
    if percent < 99:
        return "low"
    return "mid" if percent < 99.9 else "good"
