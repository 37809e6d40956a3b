"""Report rows as files: CSV (any spreadsheet, any parser)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence


def rows_csv(rows: Sequence[dict[str, object]]) -> str:
    """Rows with the same keys as CSV with a header line (an empty value for None)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["group"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
