"""Report rows as text (aligned columns), CSV (any spreadsheet, any parser) and XLSX (a
workbook with typed cells, a frozen header and a title row saying what the figures are)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def rows_text(rows: Sequence[dict[str, object]]) -> str:
    """Rows as a plain-text table: the header in capitals, the first column left-aligned, the
    figures right-aligned, '-' for nothing."""
    header = list(rows[0]) if rows else ["group"]
    cells = [["-" if row[c] is None else str(row[c]) for c in header] for row in rows]
    widths = [max([len(h), *(len(line[i]) for line in cells)]) for i, h in enumerate(header)]
    lines = []
    for line in [[h.upper() for h in header], *cells]:
        first, *rest = zip(line, widths, strict=True)
        lines.append("  ".join([first[0].ljust(first[1]), *(c.rjust(w) for c, w in rest)]))
    return "\n".join(lines) + "\n"


def rows_csv(rows: Sequence[dict[str, object]]) -> str:
    """Rows with the same keys as CSV with a header line (an empty value for None)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["group"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def rows_xlsx(rows: Sequence[dict[str, object]], title: str, sheet: str = "report") -> bytes:
    """Rows as an XLSX workbook: `title` on the first line, the header under it (frozen)."""
    from openpyxl import Workbook  # only reports that ask for a workbook pay its import
    from openpyxl.styles import Font

    book = Workbook()
    page = book.active
    assert page is not None  # a new workbook has its sheet
    page.title = sheet[:31]  # Excel's limit
    page.append([title])
    page["A1"].font = Font(bold=True)
    header = list(rows[0]) if rows else ["group"]
    page.append(header)
    for cell in page[2]:
        cell.font = Font(bold=True)
    for row in rows:
        page.append([row.get(column) for column in header])
    page.freeze_panes = "A3"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
