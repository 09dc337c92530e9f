"""Finance reports on SQLite and PostgreSQL: chargeback by one or two groupings, the job
log, the policy report, usage by time and device, and "why this price"."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from accounting.reports import (InvalidReportDate, UnknownGrouping, offset_spans, parse_grouping, report_period)
from accounting.rules import Rule
from accounting.time import zone
from tests.accounting.conftest import new_job
from tests.accounting.finance_scenario import (NOV, clock, history, paris_core, people, priced,  # noqa: F401
                                               release)

PARIS = zone("Europe/Paris")


def november(core):
    return core.reports.period("2026-11-01", "2026-12-01")


def figures(row):
    return (row.jobs, row.pages, row.impressions, row.sheets, row.color_impressions, row.mono_impressions,
            row.duplex_jobs, row.charged, row.refunds, row.adjustments, row.net)


def test_chargeback_by_cost_center_totals_each_cost_center(paris_core, history):
    rows = {row.keys: figures(row) for row in paris_core.reports.chargeback(november(paris_core), ("cost-center",))}
    assert rows == {
        ("CC-100",): (3, 12, 12, 10, 2, 10, 1, 167, 0, 250, 417),
        ("CC-200",): (1, 10, 10, 10, 0, 10, 0, 101, 30, 0, 71),
        ("project-x",): (1, 2, 2, 2, 0, 2, 0, 21, 0, 0, 21),
    }


def test_shared_account_charges_go_to_the_shared_accounts_cost_center_not_the_users(paris_core, history):
    rows = {row.keys: row.charged for row in paris_core.reports.chargeback(november(paris_core), ("cost-center", "user"))}
    assert rows[("project-x", "bob")] == 21
    assert rows[("CC-200", "bob")] == 101


def test_chargeback_by_two_levels_is_ordered_by_both_keys(paris_core, history):
    keys = [row.keys for row in paris_core.reports.chargeback(november(paris_core), ("cost-center", "user"))]
    assert keys == [("CC-100", "alice"), ("CC-100", "carol"), ("CC-200", "bob"), ("project-x", "bob")]


@pytest.mark.parametrize("by, expected", [
    ("account", {("alice",): 377, ("bob",): 71, ("carol",): 40, ("project-x",): 21}),
    ("user", {("alice",): 377, ("bob",): 92, ("carol",): 40}),
    ("group", {("finance",): 377, ("staff",): 92, ("",): 40}),
    ("device", {("mfp-1",): 123, ("mfp-2",): 136, ("",): 250}),
    ("price-list", {("standard",): 123, ("colour-floor",): 136, ("",): 250}),
    ("queue", {("secure",): 259, ("",): 250}),
])
def test_chargeback_groups_net_money_by_each_grouping(paris_core, history, by, expected):
    rows = {row.keys: row.net for row in paris_core.reports.chargeback(november(paris_core), (by,))}
    assert rows == expected


def test_the_chargeback_totals_equal_the_ledger_movements_of_the_period(paris_core, history):
    period = november(paris_core)
    movements = paris_core.reports.ledger_movements(period)
    total = sum(row.net for row in paris_core.reports.chargeback(period, ("user", "device")))
    assert total == -(movements["charge"] + movements["refund"] + movements["adjustment"]) == 509


def test_a_later_move_to_another_cost_center_does_not_change_a_past_chargeback(paris_core, history):
    before = [figures(row) + row.keys for row in paris_core.reports.chargeback(november(paris_core))]
    paris_core.users.update_user("alice", cost_center="CC-999") if hasattr(paris_core.users, "update_user") else \
        _set_cost_center(paris_core, "alice", "CC-999")
    after = [figures(row) + row.keys for row in paris_core.reports.chargeback(november(paris_core))]
    assert after == before


def _set_cost_center(core, username, cost_center):
    from sqlalchemy import update

    from accounting.schema import users

    with core.database.writer.begin() as conn:
        conn.execute(update(users).where(users.c.username == username).values(cost_center=cost_center))


def test_the_period_is_read_in_the_configured_zone(paris_core, clock):
    priced(paris_core)
    people(paris_core)
    clock.now = datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc)  # 1 December, 00:30 in Paris
    release(paris_core, "alice", "mfp-1", pages=1)
    nov = [row.net for row in paris_core.reports.chargeback(november(paris_core))]
    dec = [row.net for row in paris_core.reports.chargeback(paris_core.reports.period("2026-12-01", "2027-01-01"))]
    assert (nov, dec) == ([], [11])


def test_usage_by_day_counts_each_charge_on_its_local_day(paris_core, clock):
    priced(paris_core)
    people(paris_core)
    clock.now = datetime(2026, 11, 3, 23, 30, tzinfo=timezone.utc)  # 4 November in Paris
    release(paris_core, "alice", "mfp-1", pages=2)
    clock.now = datetime(2026, 11, 4, 8, 0, tzinfo=timezone.utc)
    release(paris_core, "alice", "mfp-2", pages=1)
    rows = list(paris_core.reports.usage(november(paris_core), bucket="day"))
    assert [(r.bucket, r.device, r.jobs, r.pages, r.net) for r in rows] == [
        (date(2026, 11, 4), "mfp-1", 1, 2, 21), (date(2026, 11, 4), "mfp-2", 1, 1, 8)]


def test_usage_folds_days_into_weeks_and_months_across_a_summer_time_change(paris_core, clock):
    priced(paris_core)
    people(paris_core)
    for when in (datetime(2026, 10, 24, 22, 30, tzinfo=timezone.utc),   # Sunday 25 Oct 00:30 CEST
                 datetime(2026, 10, 25, 23, 30, tzinfo=timezone.utc),   # Monday 26 Oct 00:30 CET
                 datetime(2026, 10, 31, 23, 30, tzinfo=timezone.utc)):  # Sunday 1 Nov 00:30 CET
        clock.now = when
        release(paris_core, "alice", "mfp-1", pages=1)
    period = paris_core.reports.period("2026-10-01", "2026-12-01")
    weeks = [(r.bucket, r.jobs) for r in paris_core.reports.usage(period, bucket="week", by_device=False)]
    months = [(r.bucket, r.jobs) for r in paris_core.reports.usage(period, bucket="month", by_device=False)]
    assert weeks == [(date(2026, 10, 19), 1), (date(2026, 10, 26), 2)]
    assert months == [(date(2026, 10, 1), 2), (date(2026, 11, 1), 1)]


def test_offset_spans_cut_a_period_where_summer_time_ends():
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    spans = offset_spans(start, start + timedelta(days=60), PARIS)
    assert [(s.isoformat(), o) for s, _, o in spans] == [("2026-10-01T00:00:00+00:00", 7200),
                                                          ("2026-10-25T01:00:00+00:00", 3600)]


def test_the_job_log_lists_ended_and_refused_jobs_in_completion_order(paris_core, history):
    rows = list(paris_core.reports.job_log(november(paris_core)))
    results = [(row.name, row.result) for row in rows]
    assert results == [("=HYPERLINK(\"http://x\")", "printed"), ("colour.pdf", "printed"),
                       ("+cmd|' /C calc'!A0", "printed"), ("project.pdf", "printed"), ("poster.pdf", "printed"),
                       ("whole-library.pdf", "refused"), ("never printed", "cancelled")]
    poster = rows[4]
    assert (poster.device, poster.queue, poster.price, poster.account, poster.media, poster.rule) == (
        "mfp-2", "secure", 40, "carol", "A3", "posters-mono")
    assert poster.submitted.tzinfo is not None and poster.completed.utcoffset() == timedelta(hours=1)
    assert rows[3].account == "project-x"
    assert rows[5].rule == "no-huge" and rows[6].price == 0


def test_the_job_logs_local_text_times_are_its_datetimes_written_out_in_the_same_order(paris_core, clock):
    priced(paris_core)
    people(paris_core)
    paris_core.rules.add(Rule(name="no-huge", action="deny", conditions={"pages": {"min": 500}}))
    # 25 October 2026: Paris goes back from 03:00 CEST to 02:00 CET; 02:xx local happens twice.
    for utc in ("2026-10-24T23:59:30", "2026-10-25T00:30:15", "2026-10-25T00:45:00", "2026-10-25T01:10:59",
                "2026-10-25T01:40:00"):
        clock.now = datetime.fromisoformat(utc).replace(tzinfo=timezone.utc)
        release(paris_core, "alice", "mfp-1", pages=1, title=f"at {utc}")
        clock.advance(minutes=1)
        refused = new_job("bob", pages=900, title=f"refused after {utc}")
        assert paris_core.decide(refused).action == "deny"
        paris_core.decisions.flush()
    period = paris_core.reports.period("2026-10-24", "2026-10-26")
    as_datetimes = list(paris_core.reports.job_log(period))
    as_text = list(paris_core.reports.job_log(period, text_times=True))
    assert [row.name for row in as_text] == [row.name for row in as_datetimes]
    assert [row.name for row in as_datetimes][:4] == ["at 2026-10-24T23:59:30", "refused after 2026-10-24T23:59:30",
                                                      "at 2026-10-25T00:30:15", "refused after 2026-10-25T00:30:15"]
    written = [row._replace(submitted=row.submitted.isoformat(" ", "seconds")[:19],
                            completed=row.completed.isoformat(" ", "seconds")[:19]) for row in as_datetimes]
    assert as_text == written
    assert [row.completed for row in as_text if row.result == "printed"][2:4] == ["2026-10-25 02:45:00",
                                                                                 "2026-10-25 02:10:59"]


def test_the_policy_report_has_every_refused_or_changed_job(paris_core, history):
    rows = list(paris_core.reports.policy_report(november(paris_core)))
    assert [(r.document, r.action, r.rule, r.user) for r in rows] == [
        ("poster.pdf", "change", "posters-mono", "carol"), ("whole-library.pdf", "deny", "no-huge", "carol")]
    assert rows[1].message == "Jobs over 500 pages are refused." and rows[1].impressions == 900


def test_why_this_price_lists_the_terms_that_add_up_to_the_price(paris_core, history):
    explained = paris_core.reports.explain_price(history.jobs["a1"])
    assert explained.price_list == "standard" and explained.device == "mfp-1"
    assert [(l.item, l.quantity, l.amount_milli) for l in explained.lines] == [
        ("mono sides, A4", 3, 30_000), ("job fee", 1, 1_000)]
    assert sum(l.amount_milli for l in explained.lines) == explained.total_milli
    assert explained.price == explained.charged == 31


def test_why_this_price_names_the_rule_that_changed_the_job(paris_core, history):
    explained = paris_core.reports.explain_price(history.jobs["c1"])
    assert [(r.rule, r.changes) for r in explained.rules][0] == ("posters-mono", {"mono": True})
    assert [(l.item, l.quantity) for l in explained.lines] == [("mono sides, A3", 5)]
    assert explained.price == explained.charged == 40


def test_why_this_price_shows_a_duplex_discount_line(paris_core, clock):
    priced(paris_core)
    people(paris_core)
    job_id = release(paris_core, "alice", "mfp-1", pages=4, duplex=True)
    explained = paris_core.reports.explain_price(job_id)
    assert [(l.item, l.amount_milli) for l in explained.lines] == [
        ("mono sides, A4", 40_000), ("duplex discount 10 %", -4_000), ("job fee", 1_000)]
    assert explained.price == explained.charged == 37


@pytest.mark.parametrize("start, end", [("2026-11-31", "2026-12-01"), ("yesterday", "2026-12-01"),
                                        ("2026-12-01", "2026-11-01"), ("2026-11-01", "2026-11-01")])
def test_bad_dates_are_clear_errors(start, end):
    with pytest.raises(InvalidReportDate):
        report_period(start, end, PARIS)


@pytest.mark.parametrize("text", ["", "colour", "user,user", "user,device,queue"])
def test_unknown_or_too_many_groupings_are_clear_errors(text):
    with pytest.raises(UnknownGrouping):
        parse_grouping(text)


def test_a_period_starts_at_local_midnight():
    period = report_period("2026-11-01", "2026-12-01", PARIS)
    assert (period.start.isoformat(), period.end.isoformat()) == ("2026-10-31T23:00:00+00:00",
                                                                  "2026-11-30T23:00:00+00:00")


operations = st.lists(st.tuples(
    st.sampled_from(["charge", "shared", "refund", "adjust", "topup", "correct"]),
    st.sampled_from(["alice", "bob", "carol"]),
    st.integers(min_value=1, max_value=40),       # pages or money
    st.integers(min_value=0, max_value=24 * 90),  # hours after 1 October
), min_size=1, max_size=25)


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, window=st.tuples(st.integers(0, 80), st.integers(1, 40)), data=st.data())
def test_every_chargeback_total_equals_the_ledgers_movements_on_random_histories(paris_core, clock, ops, window,
                                                                                  data):
    if not paris_core.prices.list():
        priced(paris_core)
        people(paris_core)
    origin = datetime(2026, 10, 1, tzinfo=timezone.utc)
    charged = []
    for op, user, amount, hours in sorted(ops, key=lambda op: op[3]):
        clock.now = origin + timedelta(hours=hours, minutes=amount)
        if op == "charge":
            charged.append(release(paris_core, user, data.draw(st.sampled_from(["mfp-1", "mfp-2"])), pages=amount,
                                   color_pages=amount // 3, duplex=bool(amount % 2)))
        elif op == "shared":
            charged.append(release(paris_core, "bob", "mfp-1", pages=amount, account="project-x"))
        elif op == "refund" and charged:
            job = paris_core.jobs.get_job(charged.pop())
            paris_core.refund_shortfall(job.id, min(amount, job.charged_amount), actor="t", reason="r")
        elif op == "adjust":
            paris_core.ledger.adjust(user, amount - 20 or 1, actor="t", reason="r")
        elif op == "topup":
            paris_core.ledger.topup(user, amount, actor="t")
        elif op == "correct" and charged:
            entry = paris_core.ledger.entries_for_job(charged[-1])[0]
            paris_core.ledger.correct(entry.id, amount, actor="t", reason="r")
    first = date(2026, 10, 1) + timedelta(days=window[0])
    period = paris_core.reports.period(first.isoformat(), (first + timedelta(days=window[1])).isoformat())
    movements = paris_core.reports.ledger_movements(period)
    by = data.draw(st.sampled_from([("cost-center",), ("account",), ("user", "device"), ("group", "price-list"),
                                    ("queue", "cost-center")]))
    rows = list(paris_core.reports.chargeback(period, by))
    assert sum(r.charged for r in rows) == -movements.get("charge", 0)
    assert sum(r.refunds for r in rows) == movements.get("refund", 0)
    assert sum(r.adjustments for r in rows) == -movements.get("adjustment", 0)
    assert sum(r.net for r in rows) == -sum(movements.get(k, 0) for k in ("charge", "refund", "adjustment"))
    assert sum(r.jobs for r in rows) == sum(1 for _ in paris_core.reports.job_log(period)
                                            if _.result == "printed")
