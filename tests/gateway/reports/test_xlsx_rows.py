"""The fast XLSX row writer against XlsxWriter's own cell-by-cell writer: every part of
the package must be the same bytes, for real reports and for rows made to hit each case
the fast path hands back to XlsxWriter."""
from __future__ import annotations

import math
import random
import zipfile
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from accounting.reports import ReportPeriod
from gateway.reports import xlsx_export
from gateway.reports.tables import Column, ReportTable, build_table
from gateway.reports.xlsx_export import write_xlsx
from gateway.reports.xlsx_rows import FastRows

PERIOD = ReportPeriod(date(2026, 11, 1), date(2026, 11, 30), datetime(2026, 10, 31, 23, tzinfo=timezone.utc),
                      datetime(2026, 11, 30, 23, tzinfo=timezone.utc), "Europe/Paris")
COLUMNS = [Column("Text"), Column("Count", "int"), Column("Money", "money"), Column("When", "datetime"),
           Column("Day", "date"), Column("Flag", "bool"), Column("Share", "percent")]
PARIS = ZoneInfo("Europe/Paris")

#: Texts the fast path writes itself and texts it must leave to XlsxWriter.
TEXTS = ["plain", "Ünïcödé – ok", "emoji 🖨️", "quote \" and apostrophe '", "line\nbreak", "tab\tinside",
         "a & b", "<b>bold</b>", "</r>", "<r>rich</r>", "x > y", " leading", "trailing ", "\tedge", "edge\n",
         "ctrl \x01 \x1f", "_x0041_ literal", "_X00ff_", "_x12G4_", "snake_x_case", "\ufffe\uffff", "=1+1",
         "+SUM(A1)", "", " ", "x" * 16383, "y" * 16384, "z" * 40000, "🖨" * 17000]


def package(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def both_ways(tmp_path, make_table) -> tuple[dict, dict]:
    write_xlsx(make_table(), tmp_path / "fast.xlsx", fast=True)
    write_xlsx(make_table(), tmp_path / "reference.xlsx", fast=False)
    return package(tmp_path / "fast.xlsx"), package(tmp_path / "reference.xlsx")


def assert_same(fast, reference):
    assert sorted(fast) == sorted(reference)
    for name in reference:
        if fast[name] != reference[name]:
            at = next(i for i, (a, b) in enumerate(zip(fast[name], reference[name])) if a != b) \
                if any(a != b for a, b in zip(fast[name], reference[name])) else min(map(len, (fast[name], reference[name])))
            pytest.fail(f"{name} differs at byte {at}:\n fast      {fast[name][at - 80:at + 80]!r}\n"
                        f" reference {reference[name][at - 80:at + 80]!r}")


def synthetic(rows, totals=None):
    return lambda: ReportTable("jobs", "Synthetic", PERIOD, "EUR", COLUMNS, iter(list(rows)),
                               totals=lambda: totals)


def test_ordinary_rows_are_written_byte_for_byte_as_xlsxwriter_writes_them(tmp_path, monkeypatch):
    handed_back = []

    def counting(kinds, formats, fallback):
        return FastRows(kinds, formats, lambda *row: (handed_back.append(row), fallback(*row)))

    monkeypatch.setattr(xlsx_export, "FastRows", counting)
    rnd = random.Random(15)
    rows = [(f"doc-{i}.pdf", rnd.randrange(0, 10**6), rnd.randrange(-10**9, 10**9),
             datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(seconds=rnd.randrange(0, 30 * 86400),
                                                                    microseconds=rnd.randrange(0, 10**6)),
             date(2026, 11, 1) + timedelta(days=i % 30), i % 3 == 0, rnd.random()) for i in range(3000)]
    fast, reference = both_ways(tmp_path, synthetic(rows, totals=("Total", 5, 1234, None, None, None, 0.5)))
    assert_same(fast, reference)
    assert b"doc-2999.pdf" in fast["xl/worksheets/sheet1.xml"]
    assert handed_back == [], "ordinary rows take the fast path"


@pytest.mark.parametrize("text", TEXTS)
def test_every_kind_of_text_comes_out_as_xlsxwriter_writes_it(tmp_path, text):
    rows = [("before", 1, 100, None, None, None, None), (text, 2, 200, None, None, True, None),
            ("after", 3, 300, None, None, False, None)]
    assert_same(*both_ways(tmp_path, synthetic(rows)))


@pytest.mark.parametrize("value", [True, 0, -1, 2**53, -2**53, 2**53 + 1, -2**53 - 1, 10**16, 10**20, -0.0, 1e-300,
                                   0.1 + 0.2, 12345678901234567.0])
def test_odd_numbers_come_out_as_xlsxwriter_writes_them(tmp_path, value):
    rows = [("n", value if not isinstance(value, float) else 1, 100, None, None, None, value)]
    assert_same(*both_ways(tmp_path, synthetic(rows)))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_number_excel_cannot_hold_fails_the_same_way_both_ways(tmp_path, value):
    for fast in (True, False):
        with pytest.raises(TypeError, match="NAN/INF"):
            write_xlsx(synthetic([("n", 1, 1, None, None, None, value)])(), tmp_path / f"{fast}.xlsx", fast=fast)


@pytest.mark.parametrize("when", [datetime(1900, 1, 1), datetime(1900, 2, 28, 23, 59), datetime(1900, 3, 1),
                                  datetime(1901, 1, 1), datetime(2026, 3, 29, 2, 30, tzinfo=PARIS),
                                  datetime(2026, 12, 31, 23, 59, 59, 999999), datetime(9999, 12, 31)])
def test_dates_and_times_come_out_as_xlsxwriter_writes_them(tmp_path, when):
    rows = [("d", 1, 1, when, when.date(), None, None)]
    assert_same(*both_ways(tmp_path, synthetic(rows)))


def test_rows_without_cells_and_rows_of_gaps_match(tmp_path):
    rows = [(None,) * 7, ("a", None, 1, None, None, None, None), (None,) * 7, (None, 5, None, None, None, None, None),
            ("z" * 20000, None, None, None, None, None, None), (None,) * 7]
    assert_same(*both_ways(tmp_path, synthetic(rows, totals=("Total", 5, 1, None, None, None, None))))


def test_a_report_spread_over_several_sheets_matches(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_export, "EXCEL_ROWS", 9)
    rows = [(f"r{i}" if i % 4 else " odd", i, i * 10, None, None, i % 2 == 0, None) for i in range(20)]
    fast, reference = both_ways(tmp_path, synthetic(rows, totals=("Total", 190, 1900, None, None, None, None)))
    assert_same(fast, reference)
    assert "xl/worksheets/sheet5.xml" in fast


@pytest.mark.parametrize("report", ["chargeback", "jobs", "policy", "usage"])
def test_every_real_report_is_the_same_file_either_way(core, tmp_path, report):
    def make_table():
        return build_table(core.reports, report, core.reports.period("2026-11-01", "2026-12-01"),
                           by=("cost-center", "user"))
    fast, reference = both_ways(tmp_path, make_table)
    assert_same(fast, reference)
