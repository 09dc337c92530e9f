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
        self._render_row = _row_renderer(list(kinds), formats)
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
            cells = self._render_row(number, row)
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
        self._pending.append(f'<row r="{number}">{cells}</row>')
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

    def __init__(self, cell_format):
        self._format = cell_format
        self.attribute = None

    def __call__(self) -> str:
        self.attribute = f' s="{self._format._get_xf_index()}"'
        return self.attribute


def _cell_code(kind: str, column: int, formats, names: dict) -> list[str]:
    """Source lines that append column ``column``'s cell (value ``v``, row number text
    ``n``) to ``out``, or raise ``UnusualCell``."""
    letters = xl_col_to_name(column)
    style_name = {"money": "money", "percent": "percent", "datetime": "datetime", "date": "date"}.get(kind)
    style = ""
    if style_name:
        names[f"s{column}"] = Style(formats[style_name])
        style = f"{{s{column}.attribute if s{column}.attribute is not None else s{column}()}}"
    if kind == "text":
        return ["t = v if v.__class__ is str else str(v)",
                "if len(t) > LONG_TEXT or UNUSUAL_TEXT(t): raise UnusualCell",
                f"out(f'<c r=\"{letters}{{n}}\" t=\"inlineStr\"><is><t>{{t}}</t></is></c>')"]
    if kind in ("int", "percent"):
        # An int a double holds exactly prints the same as XlsxWriter's ``.16G``, faster.
        return ["if v.__class__ is int and -EXACT <= v <= EXACT:",
                f"    out(f'<c r=\"{letters}{{n}}\"{style}><v>{{v}}</v></c>')",
                "else:",
                "    if v.__class__ is not int and (v.__class__ is not float or not isfinite(v)): raise UnusualCell",
                f"    out(f'<c r=\"{letters}{{n}}\"{style}><v>{{v:.16G}}</v></c>')"]
    if kind == "money":
        # Minor units to currency units, as the reference writer divides them.
        return ["if v.__class__ is not int: raise UnusualCell",
                f"out(f'<c r=\"{letters}{{n}}\"{style}><v>{{v / 100:.16G}}</v></c>')"]
    if kind in ("datetime", "date"):
        check = ("if v.__class__ is not date: raise UnusualCell\nv = datetime.combine(v, MIDNIGHT)" if kind == "date"
                 else "if v.__class__ is not datetime: raise UnusualCell")
        return [*check.split("\n"),
                "if v.year < 1901: raise UnusualCell",  # XlsxWriter's 1900 special cases
                # XlsxWriter drops the zone and subtracts its epoch (a midnight): the
                # difference's days and seconds are the wall date's and time's. The same
                # float operations as its conversion, in its order.
                "x = (v.toordinal() - EPOCH_DAY) + (float(v.hour * 3600 + v.minute * 60 + v.second)"
                " + float(v.microsecond) / 1e6) / 86400",
                "x += 1",  # Excel's 29 February 1900
                f"out(f'<c r=\"{letters}{{n}}\"{style}><v>{{x:.16G}}</v></c>')"]
    if kind == "bool":
        return [f"out(f'<c r=\"{letters}{{n}}\" t=\"b\"><v>{{1 if v else 0}}</v></c>')"]
    raise ValueError(f"unknown column kind {kind!r}")


def _row_renderer(kinds, formats):
    """One function for the table's row shape, written out column by column: a call per
    cell costs as much as rendering it (about half the fast path's time measured before)."""
    names = {"UnusualCell": UnusualCell, "LONG_TEXT": _LONG_TEXT, "UNUSUAL_TEXT": _UNUSUAL_TEXT.search,
             "isfinite": isfinite, "date": date, "datetime": datetime, "MIDNIGHT": time(0), "EPOCH_DAY": _EPOCH.toordinal(),
             "EXACT": 2**53}
    lines = ["def render_row(n, row):",
             f"    if len(row) != {len(kinds)}: raise UnusualCell",
             "    cells = []",
             "    out = cells.append"]
    for column, kind in enumerate(kinds):
        lines.append(f"    v = row[{column}]")
        lines.append("    if v is not None:")
        lines.extend(f"        {line}" for line in _cell_code(kind, column, formats, names))
    lines.append("    return ''.join(cells)")
    exec(compile("\n".join(lines), f"<xlsx rows {','.join(kinds)}>", "exec"), names)
    return names["render_row"]
