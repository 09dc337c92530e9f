"""Finance exports the ledger as CSV from the ledger page: the filters of the page apply,
hostile reasons are text in the file, the export is in the access log, and a filter that
is no date gets a 400 page saying so (never a 500)."""
import csv
import io

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_finance_downloads_the_filtered_ledger_as_csv(world):
    world.core.ledger.topup("carol", 1_500, actor="fay", reason="=cmd|' /C calc'!A0")
    world.core.ledger.adjust("carol", -100, actor="fay", reason="jammed job")
    http = world.session("fay")
    page = http.get(world.url + "/finance/ledger", params={"kind": "topup"})
    assert 'href="/finance/ledger.csv?kind=topup"' in page.text
    export = http.get(world.url + "/finance/ledger.csv", params={"kind": "topup"})
    assert export.status_code == 200
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert export.headers["content-disposition"] == 'attachment; filename="ledger-all.csv"'
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    carol = [r for r in rows[1:] if r[2] == "carol"]
    assert (carol[-1][3], carol[-1][4], carol[-1][7]) == ("topup", "15.00", "'=cmd|' /C calc'!A0")
    assert all(r[3] == "topup" for r in rows[1:])
    log = world.session("ana").get(world.url + "/admin/access-log", params={"username": "fay", "event": "privilege"})
    assert "export of the ledger all topup" in log.text


def test_a_ledger_filter_that_is_no_date_is_a_400_page_that_says_so(world):
    http = world.session("fay")
    for path in ("/finance/ledger", "/finance/ledger.csv", "/finance/audit", "/admin/jobs"):
        answer = http.get(world.url + path, params={"since": "yesterday<script>"})
        assert answer.status_code == 400, path
        assert "not a date" in answer.text and "<script>" not in answer.text, path


def test_a_person_without_finance_cannot_export_the_ledger(world):
    assert world.session("bob").get(world.url + "/finance/ledger.csv").status_code == 403
