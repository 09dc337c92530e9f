"""Report writers on a known history (SQLite and PostgreSQL): CSV (inert formulas, BOM),
XLSX (numbers, currency format, totals), JSON, PDF (rendered with pdftoppm, read with
pdftotext, fonts embedded), atomic files, and byte-identical closed periods."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateway.reports.csv_export import inert, write_csv
from gateway.reports.json_export import write_json
from gateway.reports.produce import FORMATS, write_report_file
from gateway.reports.tables import build_table
from tests.fixtures.peers import require

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "reports"


def table(core, report="chargeback", by=("cost-center", "user"), start="2026-11-01", end="2026-12-01"):
    return build_table(core.reports, report, core.reports.period(start, end), by=by)


def csv_rows(core, **kwargs):
    stream = io.StringIO(newline="")
    write_csv(table(core, **kwargs), stream)
    return list(csv.reader(io.StringIO(stream.getvalue())))


@pytest.mark.parametrize("text, shown", [("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
                                         ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"),
                                         ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("plain.pdf", "plain.pdf")])
def test_text_a_spreadsheet_would_run_comes_out_inert(text, shown):
    assert inert(text) == shown


def test_the_chargeback_csv_has_a_header_rows_and_a_totals_row(core):
    rows = csv_rows(core)
    assert rows[0][:3] == ["Cost center", "User", "Jobs"] and rows[0][-1] == "Net (EUR)"
    assert rows[1][:3] == ["CC-100", "alice", "2"] and rows[1][-1] == "3.77"
    assert rows[-1][0] == "Total" and rows[-1][-1] == "5.09"
    assert len(rows) == 6


def test_the_job_log_csv_neutralises_document_names_and_keeps_money_numeric(core):
    rows = csv_rows(core, report="jobs")
    names = [row[1] for row in rows[1:-1]]
    assert "'=HYPERLINK(\"http://x\")" in names and "'+cmd|' /C calc'!A0" in names
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)
    assert rows[0][3] == "Completed (Europe/Paris)" and rows[1][3] == "2026-11-03 10:00:00"


def test_negative_money_stays_a_number_in_csv(core, clock):
    clock.now = datetime(2026, 11, 20, tzinfo=timezone.utc)
    core.ledger.adjust("carol", 500, actor="admin", reason="goodwill")
    rows = csv_rows(core, by=("user",))
    assert [row[-2] for row in rows if row[0] == "carol"] == ["-5.00"]


def test_the_csv_bom_is_written_only_when_asked(core):
    with_bom, without = io.StringIO(), io.StringIO()
    write_csv(table(core), with_bom, bom=True)
    write_csv(table(core), without)
    assert with_bom.getvalue() == "\ufeff" + without.getvalue()


def test_json_streams_rows_with_money_in_minor_units(core):
    stream = io.StringIO()
    write_json(table(core, by=("cost-center",)), stream)
    data = json.loads(stream.getvalue())
    assert (data["currency"], data["money"], data["timezone"]) == ("EUR", "minor units", "Europe/Paris")
    assert [(row["cost_center"], row["net"]) for row in data["rows"]] == [("CC-100", 417), ("CC-200", 71),
                                                                          ("project-x", 21)]
    assert data["totals"]["net"] == 509


def test_xlsx_cells_are_numbers_with_the_currency_format_and_a_totals_row(core, tmp_path):
    import openpyxl

    path = write_report_file(table(core, report="jobs"), "xlsx", tmp_path / "jobs.xlsx")
    sheet = openpyxl.load_workbook(path).active
    head = [cell.value for cell in sheet[4]]
    assert head[:3] == ["Job", "Name", "Submitted (Europe/Paris)"]
    first = sheet[5]
    assert first[1].value == "=HYPERLINK(\"http://x\")" and first[1].data_type == "s"
    assert isinstance(first[3].value, datetime) and first[3].value == datetime(2026, 11, 3, 10, 0)
    assert first[14].value == pytest.approx(0.31) and "EUR" in first[14].number_format
    last = sheet[sheet.max_row]
    assert last[14].value.startswith("=SUBTOTAL(9,O5:O")
    values = openpyxl.load_workbook(path, data_only=True).active
    assert values.cell(sheet.max_row, 15).value == pytest.approx(2.89)


def test_pdf_has_a_cover_charts_and_repeated_headers_with_embedded_fonts(core, tmp_path, engine_name, clock):
    from tests.accounting.finance_scenario import release

    clock.now = datetime(2026, 11, 10, tzinfo=timezone.utc)
    for i in range(70):
        release(core, "alice", "mfp-1", pages=1 + i % 3, title=f"batch-{i:03}.pdf")
    path = write_report_file(table(core, report="jobs"), "pdf", tmp_path / "jobs.pdf")
    cover = write_report_file(table(core), "pdf", tmp_path / "chargeback.pdf")
    pdftotext, pdftoppm, pdffonts = (require(name, "poppler-utils") for name in ("pdftotext", "pdftoppm", "pdffonts"))
    text = subprocess.run([pdftotext, "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")[:-1]
    assert "Job log" in pages[0] and "2026-11-01 to 2026-11-30 (Europe/Paris)" in pages[0]
    assert len(pages) >= 3
    assert all("Submitted" in page and "Completed" in page and "Account" in page for page in pages[1:])
    assert "batch-069.pdf" in text and "Total: 77 jobs" in text
    assert "Impressions" in pages[1] and "Workstation" in pages[1] and "cancelled" in text  # not cut short
    summary = subprocess.run([pdftotext, "-layout", str(cover), "-"], capture_output=True, text=True,
                             check=True).stdout
    net = sum(row.net for row in core.reports.chargeback(core.reports.period("2026-11-01", "2026-12-01")))
    assert f"{net // 100}.{net % 100:02} EUR" in summary and "Top cost centers by net charge" in summary
    fonts = subprocess.run([pdffonts, str(cover)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts and all(" yes " in line.split("TrueType")[-1] for line in fonts)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, pdf in (("chargeback", cover), ("jobs", path)):
        prefix = ARTIFACTS / f"{name}-{engine_name}"
        subprocess.run([pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf), str(prefix)], check=True)
        assert list(ARTIFACTS.glob(f"{name}-{engine_name}-*.png"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_closed_months_report_is_byte_identical_however_often_and_late_it_is_run(core, tmp_path, fmt, clock):
    core.periods.close("2026-11", actor="finance", now=datetime(2026, 12, 5, tzinfo=timezone.utc))
    first = write_report_file(table(core), fmt, tmp_path / f"first.{fmt}").read_bytes()
    clock.now = datetime(2027, 1, 15, tzinfo=timezone.utc)
    core.ledger.correct(core.ledger.entries_for_job(core.history.jobs["a1"])[0].id, 5, actor="t", reason="late")
    core.purge_retention(datetime(2027, 9, 1, tzinfo=timezone.utc), days=30)
    again = write_report_file(table(core), fmt, tmp_path / f"again.{fmt}").read_bytes()
    assert again == first


@pytest.mark.parametrize("report, fmt", [("jobs", "pdf"), ("jobs", "xlsx"), ("policy", "csv"), ("usage", "pdf")])
def test_the_other_reports_of_a_closed_month_are_byte_identical_when_run_again_later(core, tmp_path, report, fmt,
                                                                                   clock):
    from tests.accounting.finance_scenario import release

    core.periods.close("2026-11", actor="finance", now=datetime(2026, 12, 5, tzinfo=timezone.utc))
    first = write_report_file(table(core, report=report), fmt, tmp_path / f"first.{fmt}").read_bytes()
    clock.now = datetime(2026, 12, 20, tzinfo=timezone.utc)
    release(core, "alice", "mfp-1", pages=2, title="december.pdf")
    core.ledger.correct(core.ledger.entries_for_job(core.history.jobs["a1"])[0].id, 5, actor="t", reason="late")
    again = write_report_file(table(core, report=report), fmt, tmp_path / f"again.{fmt}").read_bytes()
    assert again == first


def test_a_failed_export_leaves_no_file_and_keeps_an_older_one(core, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    target = folder / "report.csv"
    target.write_text("yesterday's report\n")
    broken = table(core, report="jobs")
    rows = broken.rows

    def failing():
        yield next(rows)
        raise OSError("disk full")

    broken.rows, broken.text_rows = failing(), None
    with pytest.raises(OSError):
        write_report_file(broken, "csv", target)
    assert target.read_text() == "yesterday's report\n"
    assert [p.name for p in folder.iterdir()] == ["report.csv"]


def test_a_report_longer_than_an_excel_sheet_continues_on_the_next(core, tmp_path, monkeypatch):
    import openpyxl

    from gateway.reports import xlsx_export

    monkeypatch.setattr(xlsx_export, "EXCEL_ROWS", 8)  # 4 header rows, 3 data rows, and room for totals
    path = write_report_file(table(core, report="jobs"), "xlsx", tmp_path / "jobs.xlsx")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Report", "Report (2)", "Report (3)"]
    names = [row[1].value for sheet in workbook for row in sheet.iter_rows(min_row=5) if row[0].value is not None]
    assert len(names) == 6 and all(sheet.cell(4, 1).value == "Job" for sheet in workbook)
