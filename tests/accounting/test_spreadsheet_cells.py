"""CSV cells that spreadsheets open as text, never as formulas."""
import pytest

from accounting.spreadsheet_cells import inert, spreadsheet_cell


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


def test_a_text_cell_is_neutralised_even_when_it_reads_as_a_number():
    assert inert("-2+3") == "'-2+3" and inert("-5") == "'-5" and spreadsheet_cell("-5") == "-5"


def test_the_report_writers_use_the_same_neutraliser():
    from gateway.reports import csv_export

    assert csv_export.inert is inert
