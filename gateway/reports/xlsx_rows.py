"""Data rows of an XLSX report written straight into XlsxWriter's row file.

Why: in constant-memory mode XlsxWriter spends about 5 µs a cell in Python (type
dispatch, dimension checks, a per-cell attribute list, three regex searches per string),
which made the 3,000,000-row job log 6.9x slower as XLSX than as CSV (issue 15 asks for
3x). This module renders each ordinary row as one string, in exactly the XML that
XlsxWriter's own ``_write_single_row`` writes for it, and appends it to the worksheet's
row file; XlsxWriter still writes everything else (header rows, styles, dimensions,
panes, autofilter, totals, the package). Any cell this renderer is not certain about — a
long string, a control character, an ``_xHHHH_`` literal, edge whitespace, markup
characters, a float that is not finite, a date before 1901 — sends its whole row through
XlsxWriter's public API instead, so the file is the same either way.

This reaches into XlsxWriter's private worksheet state (``row_data_fh``,
``previous_row``, ``dim_rowmax``, ``_write_single_row``, ``Format._get_xf_index``).
``tests/gateway/reports/test_xlsx_rows.py`` writes the same tables both ways and
requires identical bytes in every part of the package, so a change inside XlsxWriter
fails that test rather than a finance user's file.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time
from math import isfinite

from xlsxwriter.utility import xl_col_to_name

#: Strings the fast path leaves to XlsxWriter: characters XML or Excel escape, the
#: ``_xHHHH_`` form Excel reads as an escape, leading or trailing whitespace.
_UNUSUAL_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$")
#: XlsxWriter checks a string's UTF-16 length only past half of Excel's 32,767 limit.
_LONG_TEXT = 32767 // 2
#: Excel's day zero as XlsxWriter counts it (1900 date system).
_EPOCH = datetime(1899, 12, 31)
_FLUSH_ROWS = 512


class UnusualCell(Exception):
    """This cell is left to XlsxWriter's own writer (and with it, its row)."""


class FastRows:
    """Writes a sheet's data rows; ``fallback(sheet, row_index, row)`` writes one row
    through XlsxWriter's public API (the reference writer)."""

    def __init__(self, kinds, formats, fallback):
        self._fallback = fallback
        self._renderers = [_renderer(kind, column, formats) for column, kind in enumerate(kinds)]
        self._sheet = None
        self._pending: list[str] = []
        self._last_row = None

    def start(self, sheet, first_row: int) -> None:
        """Begin writing ``sheet`` at ``first_row``; what XlsxWriter still holds of the
        rows above (the header) is written first, as its own next write would."""
        self.finish()
        sheet._write_single_row(first_row)
        self._sheet = sheet
        self._last_row = None

    def write(self, row_index: int, row) -> None:
        number = str(row_index + 1)
        try:
            cells = [render(number, value) for render, value in zip(self._renderers, row) if value is not None]
        except UnusualCell:
            self._flush()
            sheet = self._sheet
            sheet.previous_row = row_index
            self._fallback(sheet, row_index, row)
            sheet._write_single_row(row_index + 1)
            sheet.previous_row = row_index
            return
        if not cells:
            return  # XlsxWriter writes nothing for a row without cells
        self._pending.append(f'<row r="{number}">{"".join(cells)}</row>')
        self._last_row = row_index
        if len(self._pending) >= _FLUSH_ROWS:
            self._flush()

    def finish(self) -> None:
        """Put the rows written so far into the sheet and leave XlsxWriter's state as
        its own writer would (the last data row as its current row), so the API can
        go on below them."""
        if self._sheet is None:
            return
        self._flush()
        sheet = self._sheet
        if self._last_row is not None:
            sheet.dim_rowmax = max(sheet.dim_rowmax, self._last_row)
            sheet.previous_row = max(sheet.previous_row, self._last_row)
        self._sheet = None

    def _flush(self) -> None:
        if self._pending:
            self._sheet.row_data_fh.write("".join(self._pending))
            self._pending.clear()


class Style:
    """A column's ``s="N"`` attribute, asked of XlsxWriter when its first cell is
    written: XlsxWriter numbers formats in the order cells use them, so asking earlier
    would renumber the styles."""

    def __init__(self, formats, name):
        self._format = formats[name] if name else None
        self.attribute = None if name else ""

    def __call__(self) -> str:
        self.attribute = f' s="{self._format._get_xf_index()}"'
        return self.attribute


def _renderer(kind: str, column: int, formats):
    letters = xl_col_to_name(column)

    if kind == "text":
        def render(number, value):
            text = str(value)
            if len(text) > _LONG_TEXT or _UNUSUAL_TEXT.search(text):
                raise UnusualCell
            return f'<c r="{letters}{number}" t="inlineStr"><is><t>{text}</t></is></c>'
        return render
    if kind in ("int", "money", "percent"):
        style = Style(formats, {"int": None, "money": "money", "percent": "percent"}[kind])
        scale = 100 if kind == "money" else None

        def render(number, value):
            if scale is not None:
                if value.__class__ is not int:
                    raise UnusualCell
                value = value / scale
            elif value.__class__ is not int and (value.__class__ is not float or not isfinite(value)):
                raise UnusualCell
            return f'<c r="{letters}{number}"{style() if style.attribute is None else style.attribute}><v>{value:.16G}</v></c>'
        return render
    if kind in ("datetime", "date"):
        style = Style(formats, kind)
        day_kind = kind == "date"

        def render(number, value):
            if day_kind:
                if value.__class__ is not date:
                    raise UnusualCell
                value = datetime.combine(value, time(0))
            elif value.__class__ is not datetime:
                raise UnusualCell
            if value.year < 1901:
                raise UnusualCell
            if value.tzinfo is not None:
                value = value.replace(tzinfo=None)
            delta = value - _EPOCH
            serial = delta.days + (float(delta.seconds) + float(delta.microseconds) / 1e6) / 86400
            serial += 1  # Excel's 29 February 1900
            return f'<c r="{letters}{number}"{style() if style.attribute is None else style.attribute}><v>{serial:.16G}</v></c>'
        return render
    if kind == "bool":
        def render(number, value):
            return f'<c r="{letters}{number}" t="b"><v>{1 if value else 0}</v></c>'
        return render
    raise ValueError(f"unknown column kind {kind!r}")
