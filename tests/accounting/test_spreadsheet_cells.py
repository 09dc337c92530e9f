"""CSV cells that spreadsheets open as text, never as formulas."""
import pytest

from accounting.spreadsheet_cells import spreadsheet_cell


@pytest.mark.parametrize("value, cell", [
    ("=1+2", "'=1+2"), ("+SUM(A1)", "'+SUM(A1)"), ("-cmd|'/c calc'!A0", "'-cmd|'/c calc'!A0"), ("@SUM(1)", "'@SUM(1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("\uff1d1+2", "'\uff1d1+2"), ("plain", "plain"), ("a=b", "a=b"),
])
def test_a_cell_that_would_run_as_a_formula_starts_with_an_apostrophe(value, cell):
    assert spreadsheet_cell(value) == cell


@pytest.mark.parametrize("value, cell", [("-2.50", "-2.50"), ("-5", "-5"), (-5, "-5"), (12, "12"), (None, ""),
                                         (True, "true")])
def test_numbers_stay_numbers_and_nothing_is_empty(value, cell):
    assert spreadsheet_cell(value) == cell
