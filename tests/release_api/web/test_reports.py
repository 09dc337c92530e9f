"""Finance's reports page, served for real over issue 15's report code: a chosen report,
period and format download as a file, the CSV is byte for byte what ``printgate report``
writes for the same period, the export is in the access log, closed months are marked
closed, bad choices are a 400 page, and only finance and admins may download."""
import csv
import io
import json
from datetime import date

import pytest

from gateway.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TODAY = date.today()
SINCE, UNTIL = date(TODAY.year - 1, 1, 1).isoformat(), date(TODAY.year + 1, 12, 31).isoformat()


@pytest.fixture(scope="module")
def money(world):
    """Money in the period: a top-up and two adjustments (top-ups are not chargeback)."""
    world.core.ledger.topup("carol", 2_500, actor="fay", reason="=cmd|' /C calc'!A0")
    world.core.ledger.adjust("bob", -150, actor="fay", reason="jammed")
    world.core.ledger.adjust("carol", -275, actor="fay", reason="stapler")
    return world


def download(http, world, **params):
    return http.get(world.url + "/finance/reports/export", params=params)


def test_finance_downloads_a_chargeback_by_two_groupings_as_csv(money):
    answer = download(money.session("fay"), money, report="chargeback", by="cost-center", then="user",
                      since=SINCE, until=UNTIL, format="csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="chargeback-cost-center-user-{SINCE.replace("-", "")}-{UNTIL.replace("-", "")}.csv"')
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8"))))
    assert rows[0][:2] == ["Cost center", "User"] and rows[-1][0] == "Total"
    assert {row[1] for row in rows[1:-1]} >= {"bob", "carol"}


def test_the_downloaded_csv_is_what_printgate_report_writes_for_the_same_period(money, capsysbinary):
    web = download(money.session("fay"), money, report="chargeback", by="user", since=SINCE, until=UNTIL,
                   format="csv").content
    data_dir = money.data_dir
    code = main(["--data-dir", str(data_dir), "report", "chargeback", "--by", "user", "--from", SINCE,
                 "--to", date(TODAY.year + 2, 1, 1).isoformat()])
    assert code == 0
    assert web == capsysbinary.readouterr().out
    assert b"\r\ncarol," in web and b",2.75\r\n" in web


@pytest.mark.parametrize("fmt, start", [("xlsx", b"PK"), ("pdf", b"%PDF-"), ("json", b"{")])
def test_each_format_downloads(money, fmt, start):
    answer = download(money.session("ana"), money, report="usage", bucket="week", since=SINCE, until=UNTIL,
                      format=fmt)
    assert answer.status_code == 200 and answer.content.startswith(start)
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert list((money.data_dir / "web-reports").iterdir()) == []  # built and sent without a name left behind


def test_the_job_log_downloads_as_json_with_the_job_in_it(money):
    answer = download(money.session("fay"), money, report="jobs", since=SINCE, until=UNTIL, format="json")
    assert answer.status_code == 200
    assert json.loads(answer.content)["report"] == "jobs"


def test_a_download_is_written_to_the_access_log(money):
    download(money.session("fay"), money, report="policy", since=SINCE, until=UNTIL, format="csv")
    log = money.session("ana").get(money.url + "/admin/access-log", params={"username": "fay", "event": "privilege"})
    assert f"export of the policy report {SINCE}..{UNTIL} csv" in log.text


@pytest.mark.parametrize("params, message", [
    (dict(report="chargeback", since="2026-13-01", until="2026-12-01"), "not a date"),
    (dict(report="chargeback", since="2026-12-01", until="2026-11-01"), "before it starts"),
    (dict(report="chargeback", by="colour", since="2026-11-01", until="2026-11-30"), "unknown grouping"),
    (dict(report="chargeback", by="user", then="user", since="2026-11-01", until="2026-11-30"), "unknown grouping"),
    (dict(report="secrets", since="2026-11-01", until="2026-11-30"), "unknown report"),
    (dict(report="jobs", since="2026-11-01", until="2026-11-30", format="exe"), "unknown format"),
    (dict(report="jobs", until="2026-11-30"), "(YYYY-MM-DD)"),
])
def test_a_bad_choice_is_a_400_page_that_says_why(money, params, message):
    answer = download(money.session("fay"), money, **{"format": "csv", **params})
    assert answer.status_code == 400 and message in answer.text
    assert "attachment" not in answer.headers.get("content-disposition", "")


def test_a_user_cannot_download_a_report(money):
    answer = download(money.session("bob"), money, report="chargeback", since=SINCE, until=UNTIL)
    assert answer.status_code == 403 and "attachment" not in answer.headers.get("content-disposition", "")


def test_an_anonymous_download_link_goes_to_the_login_page(money):
    answer = money.browser_session().get(money.url + "/finance/reports/export?report=jobs", allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


def test_the_reports_page_marks_a_closed_month_closed_and_offers_every_choice(money):
    first = TODAY.replace(day=1)
    before = date(first.year - 1, 12, 1) if first.month == 1 else date(first.year, first.month - 1, 1)
    money.core.periods.close(f"{before:%Y-%m}", actor="fay")
    page = money.session("fay").get(money.url + "/finance/reports")
    assert page.status_code == 200
    assert f"{before:%B %Y}</td>\n<td data-label=\"State\"><span><span class=\"badge\">closed</span> on " in page.text
    assert f"Closed: {before:%Y-%m}" in page.text  # the period chosen by default is that month
    for choice in ('value="chargeback"', 'value="jobs"', 'value="policy"', 'value="usage"', 'value="price-list"',
                   'value="month"', 'value="xlsx"', 'value="pdf"', 'value="json"'):
        assert choice in page.text
    assert "UTC" in page.text


def test_the_connection_idle_timeout_is_off_while_a_report_is_made_and_back_after():
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport
    from twisted.web.http import HTTPChannel, Request

    from release_api.web.pages_finance import _idle_timeout_off, _idle_timeout_on

    channel = HTTPChannel()
    channel.callLater = Clock().callLater
    channel.makeConnection(StringTransport())
    channel.setTimeout(120)
    request = Request(channel)
    saved = _idle_timeout_off(request)
    assert channel.timeOut is None
    _idle_timeout_on(request, saved)
    assert channel.timeOut == 120
