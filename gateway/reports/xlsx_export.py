"""XLSX with XlsxWriter in constant-memory mode: each row is written to the file as it
arrives and forgotten, so memory stays flat at millions of rows. Numbers are numbers,
money has the currency's number format, times are Excel times in the report's zone, and
a totals row closes the table (SUBTOTAL formulas, with their values stored so a viewer
that does not recalculate shows them too). Text is always written as text, never as a
formula, whatever it starts with. A sheet holds at most Excel's 1,048,576 rows; a longer
report continues on "Report (2)", and so on, each with the header again.

The file depends only on the data: the workbook's creation date is the period's start,
so the same closed period gives the same bytes every time.

Data rows go through ``gateway.reports.xlsx_rows`` (the same XML, written without
XlsxWriter's per-cell cost); ``fast=False`` writes them cell by cell through XlsxWriter's
API, the reference the fast path is tested against byte for byte."""
from __future__ import annotations

import zipfile
from datetime import datetime, time

import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.utility import xl_rowcol_to_cell

from gateway.reports.csv_export import header
from gateway.reports.xlsx_rows import FastRows

class _QuickDeflateZip(zipfile.ZipFile):
    """XlsxWriter's package, deflated at zlib level 1 instead of the default 6: the
    3,000,000-row job log's sheet is gigabytes of XML, and level 6 was a quarter of the
    export's CPU time (100,000 rows: 0.53 of 1.65 s; level 1: 1.21 s in all, a file 34%
    larger). XlsxWriter has no option for it, so its module's ``ZipFile`` is this class
    (set once, here; every XLSX file the process writes is a report)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("compresslevel", 1)
        super().__init__(*args, **kwargs)


xlsxwriter.workbook.ZipFile = _QuickDeflateZip

EXCEL_ROWS = 1_048_576
HEAD_ROWS = 4  # title, period, notes, column names


def write_xlsx(table, path, *, progress=None, fast: bool = True) -> int:
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "remove_timezone": True,
                                               "strings_to_formulas": False, "strings_to_urls": False})
    created = datetime.combine(table.period.first_day, time(0))
    workbook.set_properties({"title": table.title, "created": created, "author": "Printgate"})
    formats = {
        "money": workbook.add_format({"num_format": f'#,##0.00 "{table.currency}";-#,##0.00 "{table.currency}"'}),
        "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "percent": workbook.add_format({"num_format": "0.0%"}),
        "head": workbook.add_format({"bold": True, "bottom": 1, "text_wrap": True}),
        "title": workbook.add_format({"bold": True, "font_size": 14}),
        "total": workbook.add_format({"bold": True, "top": 1}),
    }
    formats["total money"] = workbook.add_format({"bold": True, "top": 1, "num_format": formats["money"].num_format})
    names = header(table)
    writers = [_writer(column.kind, formats) for column in table.columns]

    def write_cells(sheet, row_index, row):
        for col, (write, value) in enumerate(zip(writers, row)):
            if value is not None:
                write(sheet, row_index, col, value)

    rows = FastRows([column.kind for column in table.columns], formats, write_cells) if fast else None
    sheet_number = 0
    sheet = None
    row_index = EXCEL_ROWS
    first_data = HEAD_ROWS
    count = 0

    def new_sheet():
        nonlocal sheet_number, sheet, row_index, first_data
        sheet_number += 1
        sheet = workbook.add_worksheet("Report" if sheet_number == 1 else f"Report ({sheet_number})")
        sheet.write_string(0, 0, table.title, formats["title"])
        sheet.write_string(1, 0, f"{table.period.label()}; money in {table.currency}")
        if table.notes:
            sheet.write_string(2, 0, " ".join(table.notes))
        for col, (name, column) in enumerate(zip(names, table.columns)):
            sheet.set_column(col, col, 10 + 8 * column.width)
            sheet.write_string(HEAD_ROWS - 1, col, name, formats["head"])
        sheet.freeze_panes(HEAD_ROWS, 0)
        row_index = first_data = HEAD_ROWS

    for row in table.rows:
        if row_index >= EXCEL_ROWS - 1:  # keep the last row of a sheet for its totals
            if sheet is not None:
                if rows is not None:
                    rows.finish()
                sheet.autofilter(HEAD_ROWS - 1, 0, row_index - 1, len(names) - 1)
            new_sheet()
            if rows is not None:
                rows.start(sheet, row_index)
        if rows is not None:
            rows.write(row_index, row)
        else:
            write_cells(sheet, row_index, row)
        row_index += 1
        count += 1
        if progress is not None and not count % 4096:
            progress(count)
    if rows is not None:
        rows.finish()
    if sheet is None:
        new_sheet()
    last_data = row_index - 1
    sheet.autofilter(HEAD_ROWS - 1, 0, max(last_data, HEAD_ROWS - 1), len(names) - 1)
    totals = table.totals()
    if totals is not None:
        for col, (column, value) in enumerate(zip(table.columns, totals)):
            if value is None:
                sheet.write_blank(row_index, col, None, formats["total"])
            elif column.kind in ("int", "money") and sheet_number == 1 and last_data >= first_data:
                span = f"{xl_rowcol_to_cell(first_data, col)}:{xl_rowcol_to_cell(last_data, col)}"
                value = value / 100 if column.kind == "money" else value
                sheet.write_formula(row_index, col, f"=SUBTOTAL(9,{span})",
                                    formats["total money" if column.kind == "money" else "total"], value)
            elif column.kind == "money":
                sheet.write_number(row_index, col, value / 100, formats["total money"])
            elif column.kind == "int":
                sheet.write_number(row_index, col, value, formats["total"])
            elif column.kind == "percent":
                sheet.write_number(row_index, col, value, formats["percent"])
            else:
                sheet.write_string(row_index, col, str(value), formats["total"])
    workbook.close()
    if progress is not None:
        progress(count)
    return count


def _writer(kind: str, formats):
    if kind == "text":
        return lambda sheet, r, c, v: sheet.write_string(r, c, str(v))
    if kind == "int":
        return lambda sheet, r, c, v: sheet.write_number(r, c, v)
    if kind == "money":
        money = formats["money"]
        # Minor units to currency units for display; amounts are far below 2**53 cents,
        # so the division is exact to the cent in a double.
        return lambda sheet, r, c, v: sheet.write_number(r, c, v / 100, money)
    if kind == "datetime":
        stamp = formats["datetime"]
        return lambda sheet, r, c, v: sheet.write_datetime(r, c, v, stamp)
    if kind == "date":
        day = formats["date"]
        return lambda sheet, r, c, v: sheet.write_datetime(r, c, datetime.combine(v, time(0)), day)
    if kind == "bool":
        return lambda sheet, r, c, v: sheet.write_boolean(r, c, bool(v))
    if kind == "percent":
        percent = formats["percent"]
        return lambda sheet, r, c, v: sheet.write_number(r, c, v, percent)
    raise ValueError(f"unknown column kind {kind!r}")
