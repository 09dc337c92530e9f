"""CSV cells a spreadsheet opens as text, never as a formula.

A document name, a reason or a printer's location comes from whoever typed it; in a CSV
file a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run by
spreadsheets as a formula (CSV injection). Such a cell gets a leading apostrophe, which
spreadsheets show as text. Plain numbers ("-2.50", "-5") stay numbers."""
from __future__ import annotations

import re

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
#: Their full-width forms too: some spreadsheets read "＝1+2" as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_cell(value) -> str:
    if value is None:
        return ""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if text.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
