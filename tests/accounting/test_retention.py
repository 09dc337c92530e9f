"""Held jobs expire per queue; history is purged after retention; the ledger stays."""
from datetime import timedelta

import pytest

from accounting.pricing import PriceList
from accounting.rules import Rule
from accounting.retention import check_retention_days
from accounting.time import utcnow
from tests.accounting.conftest import T0, new_job


def test_held_jobs_expire_after_four_hours_by_default(core):
    old, young = core.jobs.record_jobs([new_job(received_at=T0), new_job(received_at=T0 + timedelta(hours=3))])
    expired = core.expire_jobs(T0 + timedelta(hours=4, minutes=1))
    assert [j.id for j in expired] == [old.id]
    assert expired[0].state == "expired" and expired[0].spool_name == old.spool_name
    assert core.jobs.get_job(young.id).state == "held"


def test_a_queue_may_keep_jobs_longer_or_shorter(core):
    core.jobs.ensure_queues(["quick", "slow"], expire_minutes={"quick": 30, "slow": 24 * 60})
    quick, slow, default = core.jobs.record_jobs([new_job(queue="quick"), new_job(queue="slow"), new_job()])
    assert [j.id for j in core.expire_jobs(T0 + timedelta(minutes=31))] == [quick.id]
    assert [j.id for j in core.expire_jobs(T0 + timedelta(hours=5))] == [default.id]
    assert [j.id for j in core.expire_jobs(T0 + timedelta(hours=25))] == [slow.id]


def test_jobs_being_released_or_finished_do_not_expire(core):
    releasing, released = core.jobs.record_jobs([new_job(), new_job()])
    core.start_release(releasing.id, "mfp", "alice")
    core.start_release(released.id, "mfp", "alice")
    core.charge_release(released.id, "mfp", "k", "alice")
    assert core.expire_jobs(T0 + timedelta(days=2)) == []


def test_expiring_twice_returns_nothing_the_second_time(core):
    core.jobs.record_jobs([new_job()])
    assert len(core.expire_jobs(T0 + timedelta(days=1))) == 1
    assert core.expire_jobs(T0 + timedelta(days=1)) == []


def test_retention_purges_old_finished_jobs_history_and_audit_but_keeps_the_ledger(core):
    core.prices.save(PriceList(name="std", is_default=True, items={("*", False): 10_000}))
    core.users.add_user("alice", balance=100)
    old, live = core.jobs.record_jobs([new_job(), new_job()])
    core.start_release(old.id, "mfp", "alice")
    core.charge_release(old.id, "mfp", "k", "alice")
    counts = core.purge_retention(utcnow() + timedelta(days=101))
    assert counts["jobs"] == 1 and counts["job_events"] >= 3 and counts["audit_log"] >= 1
    assert [j.id for j in core.jobs.list_jobs(states=None)] == [live.id]
    assert [e.job_id for e in core.ledger.entries("alice") if e.kind == "charge"] == [old.id]
    assert core.accounts.personal("alice").balance == 80


def test_retention_purges_old_refused_jobs_like_any_finished_job(core):
    """A refused job names its owner, workstation and title: kept no longer than others."""
    core.users.add_user("alice", balance=100)
    core.rules.add(Rule("too-big", "deny", {"pages": {"min": 50}}, {"message": "Max 50 pages."}))
    assert core.decide(new_job(pages=60, title="thesis")).refused
    assert core.decisions.pending.flush() == 1
    [refused] = core.jobs.list_jobs(states=("refused",))
    counts = core.purge_retention(utcnow() + timedelta(days=101))
    assert counts["jobs"] == 1
    assert core.jobs.list_jobs(states=None) == []


def test_retention_keeps_recent_history(core):
    job = core.jobs.record_jobs([new_job()])[0]
    core.jobs.change_state(job.id, "canceled", actor="alice")
    counts = core.purge_retention()
    assert counts["jobs"] == 0


@pytest.mark.parametrize("days", [29, 2001])
def test_retention_is_thirty_to_two_thousand_days(days):
    with pytest.raises(ValueError):
        check_retention_days(days)


def test_a_purge_larger_than_one_batch_removes_everything_old(core):
    jobs = core.jobs.record_jobs([new_job() for _ in range(7)])
    for job in jobs:
        core.jobs.change_state(job.id, "canceled", actor="alice")
    counts = core.retention.purge_retention(utcnow() + timedelta(days=101), batch=3)
    assert counts["jobs"] == 7 and counts["job_events"] == 14
    assert core.jobs.list_jobs(states=None) == []
