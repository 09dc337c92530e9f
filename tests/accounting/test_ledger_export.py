"""The ledger as CSV for finance: the period's entries oldest first, amounts in units,
hostile reasons kept as text, and a file too large refused rather than cut short."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from accounting.ledger_export import COLUMNS, ExportTooLarge, ledger_csv


def rows_of(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def ledger(core):
    core.users.add_user("alice")
    core.users.add_user("bob")
    core.ledger.topup("alice", 2_000, actor="fay", reason="paid at the desk")
    core.ledger.adjust("bob", -250, actor="fay", reason='=HYPERLINK("http://evil.example","refund")')
    core.ledger.topup("bob", 1_000, actor="fay", reason="+1 for the team")
    return core


def test_every_entry_is_a_row_oldest_first_with_amounts_in_units(ledger):
    rows = rows_of(ledger_csv(ledger.lists))
    assert rows[0] == list(COLUMNS)
    body = rows[1:]
    assert [(r[2], r[3], r[4], r[5]) for r in body] == [
        ("alice", "topup", "20.00", "20.00"), ("bob", "adjustment", "-2.50", "-2.50"), ("bob", "topup", "10.00", "7.50")]
    assert [int(r[0]) for r in body] == sorted(int(r[0]) for r in body)
    assert all(r[8] == "fay" for r in body)


def test_a_reason_a_spreadsheet_would_run_is_kept_as_text(ledger):
    reasons = [r[7] for r in rows_of(ledger_csv(ledger.lists))[1:]]
    assert reasons == ["paid at the desk", '\'=HYPERLINK("http://evil.example","refund")', "'+1 for the team"]


def test_the_kind_and_the_period_filter_the_rows(ledger):
    assert [r[3] for r in rows_of(ledger_csv(ledger.lists, kind="topup"))[1:]] == ["topup", "topup"]
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    assert rows_of(ledger_csv(ledger.lists, since=tomorrow)) == [list(COLUMNS)]
    assert len(rows_of(ledger_csv(ledger.lists, until=tomorrow))) == 4


def test_more_entries_than_a_file_may_hold_are_refused_not_cut_short(ledger):
    with pytest.raises(ExportTooLarge) as refused:
        ledger_csv(ledger.lists, max_rows=2)
    assert refused.value.limit == 2
    assert len(rows_of(ledger_csv(ledger.lists, max_rows=3))) == 4


def test_more_than_one_page_of_entries_is_exported_whole(core):
    core.users.add_user("carol")
    for n in range(450):  # more than two pages of MAX_PAGE_SIZE (200)
        core.ledger.topup("carol", 1, actor="fay", reason=f"r{n}")
    rows = rows_of(ledger_csv(core.lists))[1:]
    assert [r[7] for r in rows] == [f"r{n}" for n in range(450)]
