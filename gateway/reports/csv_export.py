"""CSV, written row by row as the rows stream in (memory stays flat at any length).

Spreadsheet formula injection is neutralised (``accounting.spreadsheet_cells``): a text
cell that a spreadsheet would read as a formula or a command is written with a leading
apostrophe, so a document named ``=HYPERLINK(...)`` or ``+cmd|...`` comes out as inert
text. Only text cells are touched: numbers, including negative money, stay numbers. ``bom`` writes
UTF-8's byte order mark first, which Excel needs to read UTF-8 CSV as UTF-8.
"""
from __future__ import annotations

import csv

from accounting.money import format_amount
from accounting.spreadsheet_cells import FORMULA_FIRST, inert

BOM = "\ufeff"


#: How each kind of cell is written, as an expression of its ``VALUE`` (see
#: ``row_converter``); ``None`` is always an empty cell.
CELLS = {
    "text": "(s if (s := str(VALUE))[:1] not in FIRST else \"'\" + s)",
    "int": "VALUE",
    "money": "(f'{VALUE // 100}.{VALUE % 100:02d}' if VALUE >= 0 else f'-{-VALUE // 100}.{-VALUE % 100:02d}')",
    "datetime": "(VALUE if VALUE.__class__ is str else VALUE.isoformat(' ', 'seconds')[:19])",
    "date": "VALUE.isoformat()",
    "bool": "('yes' if VALUE else 'no')",
    "percent": "f'{VALUE * 100:.1f}'",
}


def row_converter(kinds):
    """A function turning one row into its CSV cells. It is generated once per report
    as a single expression over the row's values: at millions of rows, a function call
    per cell was most of the export's time."""
    names = [f"v{i}" for i in range(len(kinds))]
    cells = ", ".join(f"'' if {name} is None else {CELLS[kind].replace('VALUE', name)}"
                      for name, kind in zip(names, kinds))
    source = f"def convert(row):\n    {', '.join(names)}{',' if len(names) == 1 else ''} = row\n    return [{cells}]\n"
    namespace = {"FIRST": FORMULA_FIRST, "money": format_amount}
    exec(compile(source, "<csv row>", "exec"), namespace)  # noqa: S102 - our own fixed templates, no input
    return namespace["convert"]


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
    convert = row_converter([column.kind for column in table.columns])
    count = 0
    writerow = writer.writerow
    for row in (table.text_rows() if table.text_rows is not None else table.rows):
        writerow(convert(row))
        count += 1
        if progress is not None and not count % 4096:
            progress(count)
    totals = table.totals()
    if totals is not None:
        writerow(convert(totals))
    if progress is not None:
        progress(count)
    return count
