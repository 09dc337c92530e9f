"""Cells a spreadsheet opens as text, never as a formula: the one place Printgate
neutralises spreadsheet formula injection (CSV injection), for every CSV it writes (the
ledger and fleet exports, issue 15's finance reports).

A document name, a reason or a printer's location comes from whoever typed it; in a CSV
file a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or their
full-width forms, which some spreadsheets read as formulas too) is run as a formula. Such
a cell gets a leading apostrophe, which spreadsheets show as text (OWASP's advice).

Two entry points, for two kinds of cell: ``inert`` for a cell known to be text (a typed
report column: every such text is neutralised, "-2+3" included); ``spreadsheet_cell`` for
an untyped value, where a plain number ("-2.50", "-5") stays a number."""
from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: The same, as a set of first characters (every start is one character), for writers that
#: test ``text[:1] in FORMULA_FIRST`` inline at millions of cells.
FORMULA_FIRST = frozenset(start[0] for start in FORMULA_STARTS)
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def inert(text: str) -> str:
    """``text`` (a text cell) as a spreadsheet will show it and never run it."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def spreadsheet_cell(value) -> str:
    """Any value as a CSV cell: None empty, booleans lower case, plain numbers as they
    are, text neutralised (``inert``)."""
    if value is None:
        return ""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if _NUMBER.fullmatch(text):
        return text
    return inert(text)
