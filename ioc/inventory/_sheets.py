"""Rows of a province's sheets as they are kept: XLSX workbooks (merged title rows, blank and
total rows) and CSV files in UTF-8 (with or without its BOM) or the Vietnamese Windows code
page, each value with the place a person finds it at (`tram-bts.xlsx:BTS!F14`)."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ioc.inventory._errors import CatalogError

HEADER_SEARCH_ROWS = 30  # title rows above the header: a few, never this many


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One row of a sheet: its number as the sheet shows it, and its values."""

    number: int
    values: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Sheet:
    """A sheet's rows, and how to name a cell of it in a message."""

    path: Path
    name: str | None  # the workbook's sheet; None for a CSV file
    rows: list[SheetRow]

    def where(self, row: int, column: int) -> str:
        """`file:Sheet!F14` (a CSV file: `file!F14`), column 0-based."""
        sheet = f":{self.name}" if self.name is not None else ""
        return f"{self.path.name}{sheet}!{column_letter(column)}{row}"


def column_letter(column: int) -> str:
    """A 0-based column as a sheet names it: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def read_sheet(path: Path, sheet_name: str | None = None) -> Sheet:
    """The rows of a CSV file, or of a workbook's sheet (its first when none is named);
    CatalogError for a file that cannot be read."""
    if not path.is_file():
        raise CatalogError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        return Sheet(path, None, list(_csv_rows(path)))
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise CatalogError(f"{path}: not a sheet ioc reads (.xlsx or .csv)")
    from openpyxl import load_workbook  # loaded by the import alone: `ioc ingest` starts without

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise CatalogError(f"{path}: not a readable workbook: {exc}") from exc
    try:
        if sheet_name is None:
            worksheet = workbook.worksheets[0]
        elif sheet_name in workbook.sheetnames:
            worksheet = workbook[sheet_name]
        else:
            names = ", ".join(workbook.sheetnames)
            raise CatalogError(f"{path}: no sheet {sheet_name!r} (it has: {names})")
        rows = [
            SheetRow(number, tuple(_clean(v) for v in values))
            for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1)
        ]
        return Sheet(path, worksheet.title, rows)
    finally:
        workbook.close()


def _csv_rows(path: Path) -> Iterator[SheetRow]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Vietnamese Windows saves CSV in its code page, tones as combining marks.
        text = raw.decode("cp1258")
    dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else csv.excel
    for number, values in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        yield SheetRow(number, tuple(_clean(v) for v in values))


def _clean(value: object) -> object:
    """Text in one Unicode form with its edges trimmed (None when empty); numbers as they are."""
    if isinstance(value, str):
        value = unicodedata.normalize("NFC", value).strip()
        return value or None
    return value
