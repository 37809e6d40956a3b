"""Report rows as text (aligned columns), CSV (any spreadsheet, any parser) and XLSX (a
workbook with typed cells, a frozen header and a title row saying what the figures are).

Text and workbooks are for people: their headers are the columns' labels in the reader's
language and text figures are written as it writes numbers. CSV and JSON are for tools: their
keys stay the columns' names, the same in every language."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from ioc.i18n import Speech, mark

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Every column a report has, as people read it.
COLUMN_LABELS = {
    "group": mark("Group"), "name": mark("Name"), "devices": mark("Devices"),
    "availability_pct": mark("Availability %"), "outages": mark("Outages"),
    "outage_min": mark("Outage (min)"), "maintenance_min": mark("Maintenance (min)"),
    "counted_min": mark("Counted (min)"), "unmonitored_min": mark("No data (min)"),
    "mtta_min": mark("MTTA (min)"), "mtta_outages": mark("Outages acknowledged"),
    "mttr_min": mark("MTTR (min)"), "mttr_outages": mark("Outages ended"),
    "online": mark("Online"), "out": mark("Out"), "in_maintenance": mark("In maintenance"),
    "no_data": mark("No data"),
    "mains_failures": mark("Mains failures"), "mains_failures_h": mark("Mains failures (h)"),
    "on_battery": mark("On battery"), "on_battery_h": mark("On battery (h)"),
    "generator": mark("Generator runs"), "generator_h": mark("Generator (h)"),
    "lowest_battery_v": mark("Lowest battery (V)"),
    "flapping_episodes": mark("Flapping episodes"), "mean_loss_pct": mark("Mean loss %"),
    "point": mark("Point"), "connected_min": mark("Connected (min)"),
    "meeting_min": mark("Meeting (min)"), "drops": mark("Drops"), "out_min": mark("Out (min)"),
    "no_data_min": mark("No data (min)"), "quality_alerts": mark("Quality alerts"),
    "worst_loss_pct": mark("Worst loss %"), "worst_jitter_ms": mark("Worst jitter (ms)"),
    "lowest_mos": mark("Lowest MOS"),
}  # fmt: skip


def column_label(column: str, speech: Speech) -> str:
    """A column's header in the reader's language (its name when it has no label)."""
    return speech.say(COLUMN_LABELS[column]) if column in COLUMN_LABELS else column


def cell_text(value: object, speech: Speech, nothing: str = "-") -> str:
    """A figure as the reader writes it (`nothing` for none); text as it is."""
    if value is None:
        return nothing
    if isinstance(value, int | float) and not isinstance(value, bool):
        return speech.number(value)
    return str(value)


def rows_text(rows: Sequence[dict[str, object]], speech: Speech) -> str:
    """Rows as a plain-text table: the columns' labels, texts (the group, its name)
    left-aligned, figures right-aligned as the reader writes numbers, '-' for nothing."""
    columns = list(rows[0]) if rows else ["group"]
    header = [column_label(column, speech) for column in columns]
    cells = [[cell_text(row[c], speech) for c in columns] for row in rows]
    widths = [max([len(h), *(len(line[i]) for line in cells)]) for i, h in enumerate(header)]
    values = [[row[c] for row in rows if row[c] is not None] for c in columns]
    texts = [bool(v) and all(isinstance(x, str) for x in v) for v in values]
    lines = [
        "  ".join(
            cell.ljust(width) if text else cell.rjust(width)
            for cell, width, text in zip(line, widths, texts, strict=True)
        ).rstrip()
        for line in [header, *cells]
    ]
    return "\n".join(lines) + "\n"


def rows_csv(rows: Sequence[dict[str, object]]) -> str:
    """Rows with the same keys as CSV with a header line (an empty value for None)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["group"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def rows_xlsx(
    rows: Sequence[dict[str, object]], title: str, speech: Speech, sheet: str = "report"
) -> bytes:
    """Rows as an XLSX workbook: `title` on the first line, the columns' labels in the reader's
    language under it (frozen), figures as numbers (the spreadsheet writes them its way)."""
    from openpyxl import Workbook  # only reports that ask for a workbook pay its import
    from openpyxl.styles import Font

    book = Workbook()
    page = book.active
    assert page is not None  # a new workbook has its sheet
    page.title = sheet[:31]  # Excel's limit
    page.append([title])
    page["A1"].font = Font(bold=True)
    columns = list(rows[0]) if rows else ["group"]
    page.append([column_label(column, speech) for column in columns])
    for cell in page[2]:
        cell.font = Font(bold=True)
    for row in rows:
        page.append([row.get(column) for column in columns])
    page.freeze_panes = "A3"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
