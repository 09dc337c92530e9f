"""Accounting's side of notices: per-user choices, once per occasion, and the queries
that find jobs about to expire, low balances and quotas nearly used."""
from __future__ import annotations

from datetime import timedelta

import pytest

from accounting.errors import UnknownUser
from tests.accounting.conftest import T0, new_job


def test_a_user_can_turn_a_notice_off_and_on_again(core):
    core.users.add_user("ann", email="ann@example.org")
    assert core.notices.recipient("ann", "job_expired").email == "ann@example.org"
    core.notices.set_preference("ann", "job_expired", False)
    assert core.notices.recipient("ann", "job_expired") is None
    assert core.notices.recipient("ann", "balance_low") is not None
    core.notices.set_preference("ann", "job_expired", True)
    assert core.notices.preferences("ann") == {"job_expired": True}


def test_a_notice_off_by_default_reaches_only_users_who_turned_it_on(core):
    core.users.add_user("ann", email="ann@example.org")
    assert core.notices.recipient("ann", "job_held", default=False) is None
    core.notices.set_preference("ann", "job_held", True)
    assert core.notices.recipient("ann", "job_held", default=False) is not None


def test_unknown_notices_and_users_are_refused(core):
    core.users.add_user("ann")
    with pytest.raises(ValueError):
        core.notices.set_preference("ann", "spam", True)
    with pytest.raises(UnknownUser):
        core.notices.set_preference("nobody", "job_held", True)
    assert core.notices.recipient("ann", "job_held") is None, "no address, no notice"


def test_a_job_about_to_expire_is_found_once(core):
    core.jobs.ensure_queues(["secure"], expire_minutes={"secure": 60})
    (job,) = core.jobs.record_jobs([new_job("ann", received_at=T0)])
    assert core.notices.jobs_expiring(30, now=T0 + timedelta(minutes=20)) == []
    ((found, expires),) = core.notices.jobs_expiring(30, now=T0 + timedelta(minutes=40))
    assert (found.id, expires) == (job.id, T0 + timedelta(minutes=60))
    assert core.notices.jobs_expiring(30, now=T0 + timedelta(minutes=45)) == []


def test_a_low_balance_is_told_once_until_it_is_above_the_threshold_again(core):
    core.users.add_user("ann", balance=100)
    account = core.accounts.personal("ann")
    low = core.notices.low_balance(account.id, default_threshold=200)
    assert (low.username, low.balance, low.threshold) == ("ann", 100, 200)
    assert core.notices.low_balance(account.id, default_threshold=200) is None
    core.ledger.topup("ann", 500, actor="t")
    assert core.notices.low_balance(account.id, default_threshold=200) is None
    core.ledger.adjust("ann", -550, actor="t", reason="test")
    assert core.notices.low_balance(account.id, default_threshold=200) is not None


def test_an_amount_reserved_for_a_print_whose_charge_is_pending_counts_as_spent(core):
    from accounting.ledger import reserve

    core.users.add_user("ann", balance=300)
    account = core.accounts.personal("ann")
    assert core.notices.low_balance(account.id, default_threshold=200) is None
    with core.database.writer.begin() as conn:
        reserve(conn, account.id, 150)
    low = core.notices.low_balance(account.id, default_threshold=200)
    assert (low.balance, low.threshold) == (150, 200)


def test_an_accounts_own_threshold_wins(core):
    core.users.add_user("ann", balance=100)
    core.notices.set_low_balance_threshold("ann", 50)
    assert core.notices.low_balance(core.accounts.personal("ann").id, default_threshold=200) is None


def test_a_quota_nearly_used_is_told_once_per_grant(core):
    core.users.add_user("ann")
    core.quotas.add("monthly", amount=1000, period="monthly", user="ann")
    core.quotas.grant_due(T0)
    account = core.accounts.personal("ann")
    assert core.notices.quota_nearly_used(account.id, 10) is None
    core.ledger.adjust("ann", -950, actor="t", reason="prints")
    quota = core.notices.quota_nearly_used(account.id, 10)
    assert (quota.granted, quota.balance) == (1000, 50)
    assert core.notices.quota_nearly_used(account.id, 10) is None


def test_a_printer_alert_is_due_once_per_change_into_error_or_warning(core):
    due = core.notices.printer_alert_due
    assert [due(7, "error"), due(7, "error")] == [True, False]
    assert [due(7, "warning"), due(7, "error")] == [True, True], "each change between them is news"
    assert due(8, "error"), "per printer"


def test_a_printer_back_in_error_after_being_unreachable_is_no_news_until_it_was_ok(core):
    due = core.notices.printer_alert_due
    assert [due(7, "error"), due(7, "unreachable"), due(7, "error")] == [True, False, False]
    assert [due(7, "ok"), due(7, "error")] == [False, True]
