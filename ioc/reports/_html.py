"""The printable availability report: one self-contained HTML page (Vietnamese by default,
English on request) with its bar chart drawn as inline SVG, so it prints and archives without
any remote asset."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ioc.i18n import Speech, mark
from ioc.reports._availability import Availability, Period
from ioc.reports._export import cell_text, column_label
from ioc.reports._titles import grouping_label, period_text

CHART_BARS = 40  # the worst groups; the table lists them all
_COLUMNS = (
    "name", "devices", "availability_pct", "outages", "outage_min", "maintenance_min",
    "unmonitored_min", "mtta_min", "mttr_min",
)  # fmt: skip
_NOTHING = "–"  # no figure: a group never heard has no availability
_OVERALL = ("outages", "outage_min", "maintenance_min", "unmonitored_min", "devices")
_WORDS = {
    "title": mark("Availability report"), "by": mark("by {grouping}"), "period": mark("Period"),
    "generated": mark("Generated"), "chart": mark("Availability per group (lowest first)"),
    "availability": mark("Overall availability"),
    "definitions": mark(
        "Outage: time with an outage alert open, outside maintenance windows. "
        "Availability = 1 - outage / (counted time - maintenance). Time ioc did not watch "
        "(a device never heard, ioc stopped or blind) is no data: not counted."
    ),
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
    speech: Speech,
    generated_at_ms: int | None = None,
) -> str:
    """The report page in the reader's language and zone: the overall figures, a bar chart of
    the worst groups, every group by name."""
    rows = [f.row() for f in figures]
    measured = sorted(
        (r for r in rows if r["availability_pct"] is not None),
        key=lambda r: (float(str(r["availability_pct"])), str(r["name"])),
    )[:CHART_BARS]
    lowest = min((float(str(r["availability_pct"])) for r in measured), default=100.0)
    floor = min(99, math.floor(lowest) - 1 if lowest < 100 else 99)  # bars that differ
    left, span = 140, 420
    bars = [
        {
            "label": str(r["name"])[:22], "y": i * 20,
            "value": cell_text(r["availability_pct"], speech, _NOTHING),
            "width": round((float(str(r["availability_pct"])) - floor) / (100 - floor) * span, 1),
            "tone": _tone(float(str(r["availability_pct"]))),
        }
        for i, r in enumerate(measured)
    ]  # fmt: skip
    moment = time.time() * 1000 if generated_at_ms is None else generated_at_ms
    words = {key: speech.say(text) for key, text in _WORDS.items()}
    words["by"] = speech.say(_WORDS["by"], grouping=grouping_label(by, speech))
    totals = overall.row()
    return _ENVIRONMENT.get_template("availability.html.j2").render(
        lang=speech.language, t=words, period=period_text(period, speech),
        generated=speech.moment(int(moment)),
        availability=cell_text(totals["availability_pct"], speech, _NOTHING),
        overall=[(cell_text(totals[c], speech), column_label(c, speech)) for c in _OVERALL],
        header=[column_label(c, speech) for c in _COLUMNS],
        rows=[[cell_text(r[c], speech, _NOTHING) for c in _COLUMNS] for r in rows],
        bars=bars, floor=cell_text(floor, speech),
        chart={"left": left, "span": span, "width": left + span + 60,
               "height": len(bars) * 20 + 16},
    )  # fmt: skip


def _tone(percent: float) -> str:
    if percent < 99:
        return "low"
    return "mid" if percent < 99.9 else "good"
