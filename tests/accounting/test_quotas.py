"""Quota schedules: one grant per period, capped accumulation, groups."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from accounting.quotas import period_start
from tests.accounting.conftest import T0

UTC = ZoneInfo("UTC")
WED = datetime(2026, 3, 4, 15, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("period, days, start", [
    ("daily", None, datetime(2026, 3, 4, tzinfo=timezone.utc)),
    ("weekly", None, datetime(2026, 3, 2, tzinfo=timezone.utc)),
    ("monthly", None, datetime(2026, 3, 1, tzinfo=timezone.utc)),
    ("custom", 10, datetime(2026, 2, 26, tzinfo=timezone.utc)),  # day 20516 since 1970 → 20510
])
def test_period_start(period, days, start):
    assert period_start(period, WED, UTC, days) == start


def test_period_start_is_local_midnight():
    start = period_start("daily", datetime(2026, 3, 4, 23, 30, tzinfo=timezone.utc), ZoneInfo("Europe/Zurich"))
    assert start == datetime(2026, 3, 4, 23, 0, tzinfo=timezone.utc)


def test_a_quota_is_granted_once_per_period(core):
    core.users.add_user("alice")
    core.quotas.add("weekly-alice", user="alice", period="weekly", amount=500)
    assert [e.amount for e in core.quotas.grant_due(WED)] == [500]
    assert core.quotas.grant_due(WED + timedelta(days=2)) == []
    assert [e.amount for e in core.quotas.grant_due(WED + timedelta(days=7))] == [500]
    assert core.accounts.personal("alice").balance == 1000


def test_a_cap_stops_accumulation(core):
    core.users.add_user("alice")
    core.quotas.add("daily", user="alice", period="daily", amount=300, cap=500)
    for day in range(4):
        core.quotas.grant_due(T0 + timedelta(days=day))
    assert core.accounts.personal("alice").balance == 500
    core.ledger.charge("alice", 100, key="k", actor="t")
    core.quotas.grant_due(T0 + timedelta(days=5))
    assert core.accounts.personal("alice").balance == 500


def test_a_group_quota_reaches_every_enabled_member(core):
    core.users.add_user("a", groups=("students",))
    core.users.add_user("b", groups=("students",))
    core.users.add_user("c", groups=("staff",))
    core.users.add_user("d", groups=("students",))
    core.users.set_enabled("d", False)
    core.quotas.add("students-monthly", group="students", period="monthly", amount=1000)
    core.quotas.grant_due(WED)
    assert [(u.username, u.balance) for u in core.users.list_users()] == [("a", 1000), ("b", 1000), ("c", 0), ("d", 0)]


def test_grants_are_quota_grant_ledger_entries(core):
    core.users.add_user("alice")
    core.quotas.add("q", user="alice", period="daily", amount=50)
    core.quotas.grant_due(WED)
    assert [e.kind for e in core.ledger.entries("alice")] == ["quota-grant"]


def test_bad_quotas_are_refused(core):
    core.users.add_user("alice")
    with pytest.raises(ValueError):
        core.quotas.add("q", user="alice", period="hourly", amount=5)
    with pytest.raises(ValueError):
        core.quotas.add("q", user="alice", period="custom", amount=5)
    with pytest.raises(ValueError):
        core.quotas.add("q", user="alice", group="x", period="daily", amount=5)
    with pytest.raises(ValueError):
        core.quotas.add("q", user="alice", period="daily", amount=0)


def test_nodes_granting_at_the_same_time_grant_once(core):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    for name in ("a", "b", "c"):
        core.users.add_user(name, groups=("students",))
    core.quotas.add("weekly", group="students", period="weekly", amount=100)
    barrier = threading.Barrier(8)

    def grant(_):
        barrier.wait()
        return len(core.quotas.grant_due(WED))

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(grant, range(8))) == 3
    assert [u.balance for u in core.users.list_users()] == [100, 100, 100]


def test_a_removed_quota_grants_nothing_more_and_its_grants_stay_in_the_ledger(core):
    from accounting.errors import AccountingError

    core.users.add_user("alice")
    core.quotas.add("weekly", amount=500, period="weekly", user="alice")
    core.quotas.grant_due(WED)
    core.quotas.remove("weekly")
    assert core.quotas.grant_due(WED + timedelta(days=7)) == []
    assert [e.kind for e in core.ledger.entries("alice")] == ["quota-grant"]
    with pytest.raises(AccountingError):
        core.quotas.remove("weekly")
