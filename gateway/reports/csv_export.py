"""CSV, written row by row as the rows stream in (memory stays flat at any length).

Spreadsheet formula injection is neutralised: a text cell that a spreadsheet would read
as a formula or a command — starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return (or their full-width forms) — is written with a leading apostrophe, so a document
named ``=HYPERLINK(...)`` or ``+cmd|...`` comes out as inert text (OWASP's advice). Only
text cells are touched: numbers, including negative money, stay numbers. ``bom`` writes
UTF-8's byte order mark first, which Excel needs to read UTF-8 CSV as UTF-8.
"""
from __future__ import annotations

import csv

from accounting.money import format_amount

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
BOM = "\ufeff"


def inert(text: str) -> str:
    """``text`` as a spreadsheet will show it and never run it."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _text(value):
    return "" if value is None else inert(str(value))


def _number(value):
    return "" if value is None else value


def _money(value):
    return "" if value is None else format_amount(value)


def _datetime(value):
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _date(value):
    return "" if value is None else value.isoformat()


def _bool(value):
    return "" if value is None else ("yes" if value else "no")


def _percent(value):
    return "" if value is None else f"{value * 100:.1f}"


CONVERTERS = {"text": _text, "int": _number, "money": _money, "datetime": _datetime, "date": _date, "bool": _bool,
              "percent": _percent}


def header(table) -> list[str]:
    """Column names; a datetime column names the zone its times are in, money the currency."""
    names = []
    for column in table.columns:
        if column.kind == "datetime":
            names.append(f"{column.name} ({table.period.timezone})")
        elif column.kind == "money":
            names.append(f"{column.name} ({table.currency})")
        elif column.kind == "percent":
            names.append(f"{column.name} (%)")
        else:
            names.append(column.name)
    return names


def write_csv(table, stream, *, bom: bool = False, progress=None) -> int:
    """Write ``table`` to the text ``stream`` (opened with ``newline=""``); returns the
    number of data rows. ``progress(n)`` is called every few thousand rows."""
    if bom:
        stream.write(BOM)
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([inert(name) for name in header(table)])
    converters = [CONVERTERS[column.kind] for column in table.columns]
    count = 0
    writerow = writer.writerow
    for row in table.rows:
        writerow([convert(value) for convert, value in zip(converters, row)])
        count += 1
        if progress is not None and not count % 4096:
            progress(count)
    totals = table.totals()
    if totals is not None:
        writerow([convert(value) for convert, value in zip(converters, totals)])
    if progress is not None:
        progress(count)
    return count
