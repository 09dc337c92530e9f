"""Period close: once a month is closed, nothing may be dated inside it, whichever way
the code (or raw SQL) tries; corrections land in the open period; the closed month's
reports stay the same."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import DBAPIError

from accounting.periods import InvalidPeriod, PeriodAlreadyClosed, PeriodClosed, PeriodNotEnded, month_bounds
from accounting.schema import closed_periods, ledger_entries
from accounting.time import zone
from tests.accounting.finance_scenario import DEC, NOV, clock, history, paris_core, release  # noqa: F401

AFTER_NOVEMBER = datetime(2026, 12, 2, tzinfo=timezone.utc)


def november_rows(core):
    period = core.reports.period("2026-11-01", "2026-12-01")
    return ([(r.keys, r.jobs, r.pages, r.charged, r.refunds, r.adjustments) for r in
             core.reports.chargeback(period, ("cost-center", "user"))],
            [tuple(r) for r in core.reports.usage(period, bucket="day")])


def close_november(core):
    return core.periods.close("2026-11", actor="finance", now=AFTER_NOVEMBER)


def test_a_month_is_bounded_by_local_midnights():
    start, end = month_bounds("2026-11", zone("Europe/Paris"))
    assert (start.isoformat(), end.isoformat()) == ("2026-10-31T23:00:00+00:00", "2026-11-30T23:00:00+00:00")


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "11-2026", "", "2026-11-01"])
def test_a_period_is_a_month_written_year_dash_month(text):
    with pytest.raises(InvalidPeriod):
        month_bounds(text, zone("UTC"))


def test_closing_records_the_month_and_its_bounds(paris_core):
    closed = close_november(paris_core)
    assert (closed.period, closed.timezone, closed.closed_by) == ("2026-11", "Europe/Paris", "finance")
    assert [p.period for p in paris_core.periods.list()] == ["2026-11"]


def test_a_month_that_has_not_ended_cannot_be_closed(paris_core):
    with pytest.raises(PeriodNotEnded):
        paris_core.periods.close("2026-11", actor="finance", now=datetime(2026, 11, 30, 22, tzinfo=timezone.utc))


def test_a_month_is_closed_once(paris_core):
    close_november(paris_core)
    with pytest.raises(PeriodAlreadyClosed):
        close_november(paris_core)


def test_no_charge_refund_adjustment_or_top_up_may_be_dated_in_a_closed_period(paris_core, history, clock):
    close_november(paris_core)
    clock.now = datetime(2026, 11, 20, tzinfo=timezone.utc)
    before = paris_core.accounts.personal("alice").balance
    for attempt in (lambda: paris_core.ledger.adjust("alice", -5, actor="t", reason="late"),
                    lambda: paris_core.ledger.topup("alice", 5, actor="t"),
                    lambda: paris_core.refund_shortfall(history.jobs["a1"], 1, actor="t", reason="late"),
                    lambda: release(paris_core, "alice", "mfp-1", pages=1)):
        with pytest.raises(PeriodClosed) as caught:
            attempt()
        assert caught.value.period == "2026-11"
    assert paris_core.accounts.personal("alice").balance == before


@pytest.mark.parametrize("statement", [
    lambda: insert(ledger_entries).values(account_id=1, kind="adjustment", amount=-1, balance_after=0, actor="sql",
                                          reason="", created_at=datetime(2026, 11, 15, tzinfo=timezone.utc)),
    lambda: update(ledger_entries).where(ledger_entries.c.kind == "charge", ledger_entries.c.created_at < DEC)
    .values(amount=-999),
    lambda: update(ledger_entries).where(ledger_entries.c.created_at >= DEC).values(created_at=NOV),
    lambda: delete(ledger_entries).where(ledger_entries.c.kind == "charge", ledger_entries.c.created_at < DEC),
    lambda: delete(closed_periods),
    lambda: update(closed_periods).values(ends_at=datetime(2026, 11, 2, tzinfo=timezone.utc)),
], ids=["insert", "update-amount", "move-into", "delete", "reopen", "shrink"])
def test_the_database_itself_refuses_raw_writes_into_a_closed_period(paris_core, history, statement):
    close_november(paris_core)
    before = november_rows(paris_core)
    with pytest.raises(DBAPIError, match="closed"):
        with paris_core.database.writer.begin() as conn:
            conn.execute(statement())
    assert november_rows(paris_core) == before


def test_a_correction_lands_in_the_open_period_and_names_the_original(paris_core, history, clock):
    close_november(paris_core)
    before = november_rows(paris_core)
    clock.now = DEC
    original = paris_core.ledger.entries_for_job(history.jobs["b1"])[0]
    correction = paris_core.ledger.correct(original.id, 20, actor="finance", reason="charged twice for a page")
    assert (correction.kind, correction.amount, correction.created_at) == ("adjustment", 20, DEC)
    assert november_rows(paris_core) == before
    december = paris_core.reports.period("2026-12-01", "2027-01-01")
    rows = {r.keys: (r.adjustments, r.jobs) for r in paris_core.reports.chargeback(december, ("cost-center", "device"))}
    assert rows[("CC-200", "mfp-1")] == (-20, 0)


def test_a_closed_months_reports_stay_the_same_after_people_move_and_retention_purges(paris_core, history, clock):
    close_november(paris_core)
    before = november_rows(paris_core)
    from sqlalchemy import update as sql_update

    from accounting.schema import users

    with paris_core.database.writer.begin() as conn:
        conn.execute(sql_update(users).values(cost_center="CC-NEW"))
    paris_core.purge_retention(datetime(2027, 6, 1, tzinfo=timezone.utc), days=30)
    assert paris_core.jobs.list_jobs(states=("released", "canceled")) == []  # the jobs behind the charges are gone
    assert november_rows(paris_core) == before
