"""Release and charging: charge exactly once, only after the device accepted the job,
never for a failed release, never overdrawn."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from accounting.errors import InsufficientFunds, InvalidStateChange
from accounting.pricing import PriceList
from tests.accounting.conftest import new_job


@pytest.fixture
def priced(core):
    core.prices.save(PriceList(name="standard", is_default=True, items={("*", False): 10_000, ("*", True): 50_000}))
    core.users.add_user("alice", balance=1000)
    return core


def held(core, **kwargs):
    job = new_job(**kwargs)
    job.decision = core.decide(job)
    return core.jobs.record_jobs([job])[0]


def test_record_jobs_stores_the_decision_and_price_estimate(priced):
    job = held(priced, pages=3)
    assert job.price_estimate == 30
    assert job.decision_action == "allow"
    assert job.decision_id


def test_start_release_reserves_the_price_and_marks_the_job_releasing(priced):
    job = held(priced, pages=3)
    releasing = priced.start_release(job.id, "mfp-1", "alice")
    assert releasing.state == "releasing" and releasing.reserved_amount == 30
    account = priced.accounts.personal("alice")
    assert (account.balance, account.reserved) == (1000, 30)


def test_charge_release_charges_the_reserved_price_and_marks_the_job_released(priced):
    job = held(priced, pages=3)
    priced.start_release(job.id, "mfp-1", "alice")
    entry = priced.charge_release(job.id, "mfp-1", "rel-1", "alice")
    assert (entry.kind, entry.amount, entry.job_id) == ("charge", -30, job.id)
    done = priced.jobs.get_job(job.id)
    assert (done.state, done.charged_amount) == ("released", 30)
    account = priced.accounts.personal("alice")
    assert (account.balance, account.reserved) == (970, 0)


def test_a_retried_charge_with_the_same_key_or_a_new_key_charges_once(priced):
    job = held(priced, pages=3)
    priced.start_release(job.id, "mfp-1", "alice")
    first = priced.charge_release(job.id, "mfp-1", "rel-1", "alice")
    assert priced.charge_release(job.id, "mfp-1", "rel-1", "alice").id == first.id
    assert priced.charge_release(job.id, "mfp-1", "rel-2", "alice").id == first.id
    assert priced.accounts.personal("alice").balance == 970


def test_a_failed_release_charges_nothing_and_puts_the_job_back_on_hold(priced):
    job = held(priced, pages=3)
    priced.start_release(job.id, "mfp-1", "alice")
    back = priced.fail_release(job.id, "printer offline")
    assert back.state == "held" and back.reserved_amount is None
    account = priced.accounts.personal("alice")
    assert (account.balance, account.reserved) == (1000, 0)
    assert priced.ledger.entries_for_job(job.id) == []


def test_a_job_cannot_be_charged_without_being_released_first(priced):
    job = held(priced, pages=3)
    with pytest.raises(InvalidStateChange):
        priced.charge_release(job.id, "mfp-1", "rel-1", "alice")


def test_a_release_the_account_cannot_pay_is_refused_before_printing(priced):
    job = held(priced, pages=3)
    priced.ledger.adjust("alice", -990, actor="admin", reason="test")
    with pytest.raises(InsufficientFunds):
        priced.start_release(job.id, "mfp-1", "alice")
    assert priced.jobs.get_job(job.id).state == "held"


def test_the_device_price_list_applies_at_release(priced):
    priced.prices.save(PriceList(name="cheap", items={("*", False): 1_000}))
    priced.devices.add("mfp-cheap", price_list="cheap")
    job = held(priced, pages=3)
    assert priced.start_release(job.id, "mfp-cheap", "alice").reserved_amount == 3


def test_a_shortfall_is_refunded_once_and_never_more_than_the_charge(priced):
    job = held(priced, pages=3)
    priced.start_release(job.id, "mfp-1", "alice")
    priced.charge_release(job.id, "mfp-1", "rel-1", "alice")
    with pytest.raises(ValueError):
        priced.refund_shortfall(job.id, 31, actor="snmp", reason="counter")
    refund = priced.refund_shortfall(job.id, 10, actor="snmp", reason="printed 2 of 3 pages")
    assert priced.refund_shortfall(job.id, 10, actor="snmp", reason="again").id == refund.id
    assert priced.accounts.personal("alice").balance == 980


def test_a_shared_account_can_be_charged_instead_of_the_owner(priced):
    priced.accounts.create_shared("project-x")
    priced.accounts.allow("project-x", user="alice")
    job = held(priced, pages=3)
    priced.start_release(job.id, "mfp-1", "alice", account="project-x")
    priced.charge_release(job.id, "mfp-1", "k", "alice")
    assert priced.accounts.get("project-x").balance == -30
    assert priced.accounts.personal("alice").balance == 1000


def test_fifty_concurrent_releases_never_overdraw_the_balance(priced):
    # 1000 available; each job costs 30 → 33 releases fit, 17 are refused.
    jobs = priced.jobs.record_jobs([new_job(pages=3) for _ in range(50)])
    barrier = threading.Barrier(50)

    def release(job):
        barrier.wait()
        try:
            priced.start_release(job.id, "mfp-1", "alice")
        except InsufficientFunds:
            return None
        return priced.charge_release(job.id, "mfp-1", f"rel-{job.id}", "alice")

    with ThreadPoolExecutor(50) as pool:
        entries = list(pool.map(release, jobs))
    assert sum(e is not None for e in entries) == 33
    account = priced.accounts.personal("alice")
    assert (account.balance, account.reserved) == (10, 0)


def test_fifty_concurrent_charges_of_one_job_charge_it_once(priced):
    job = held(priced, pages=3)
    priced.start_release(job.id, "mfp-1", "alice")
    barrier = threading.Barrier(50)

    def charge(i):
        barrier.wait()
        return priced.charge_release(job.id, "mfp-1", f"tap-{i % 3}", "alice").id

    with ThreadPoolExecutor(50) as pool:
        ids = set(pool.map(charge, range(50)))
    assert len(ids) == 1
    assert priced.accounts.personal("alice").balance == 970


def test_release_start_charge_and_failure_are_audited(priced):
    job = held(priced, pages=3)
    priced.start_release(job.id, "mfp-1", "alice")
    priced.fail_release(job.id, "jam")
    priced.start_release(job.id, "mfp-2", "alice")
    priced.charge_release(job.id, "mfp-2", "k", "alice")
    actions = [a.action for a in priced.audit.entries()]
    assert {"release.start", "release.fail", "release.charge"} <= set(actions)


def test_rules_are_checked_again_at_release(priced):
    from accounting.errors import ReleaseRefused
    from accounting.rules import Rule

    job = held(priced, pages=3)
    priced.rules.add(Rule("no-reports", "deny", {"document": "report*"}, {"message": "Reports are paused."}))
    with pytest.raises(ReleaseRefused) as caught:
        priced.start_release(job.id, "mfp-1", "alice")
    assert (caught.value.rule, caught.value.message) == ("no-reports", "Reports are paused.")
    assert priced.jobs.get_job(job.id).state == "held"
    assert any(a.action == "release.refused" for a in priced.audit.entries())


def test_two_devices_racing_to_release_one_job_release_it_once(priced):
    job = held(priced, pages=3)
    barrier = threading.Barrier(10)

    def start(i):
        barrier.wait()
        try:
            priced.start_release(job.id, f"mfp-{i}", "alice")
            return True
        except InvalidStateChange:
            return False

    with ThreadPoolExecutor(10) as pool:
        assert sum(pool.map(start, range(10))) == 1
    assert priced.accounts.personal("alice").reserved == 30
    priced.fail_release(job.id, "test over")


def test_a_job_a_rule_sends_to_a_shared_account_cannot_go_to_the_personal_one(priced):
    from accounting.errors import SharedAccountRequired
    from accounting.rules import Rule

    priced.accounts.create_shared("cc-1")
    priced.accounts.allow("cc-1", user="alice")
    priced.rules.add(Rule("bill-projects", "require-shared-account", {"document": "report*"}))
    job = held(priced, pages=3)
    with pytest.raises(SharedAccountRequired):
        priced.start_release(job.id, "mfp-1", "alice")
    assert priced.start_release(job.id, "mfp-1", "alice", account="cc-1").state == "releasing"
    priced.fail_release(job.id, "test over")


# -- before a release: confirmation, claims, shared accounts (issue 14, items 4, 6, 7) -------
def held_for_confirmation(core, **kwargs):
    from accounting.rules import Rule

    core.rules.add(Rule(name="Confirm", action="hold-confirm", conditions={"pages": {"min": 2}},
                        params={"message": "Costs {price}. Confirm it."}))
    return held(core, **kwargs)


def test_a_hold_confirm_job_cannot_start_its_release_until_its_owner_confirmed_it(priced):
    from accounting.errors import ConfirmationRequired

    job = held_for_confirmation(priced, pages=3)
    assert priced.release.unconfirmed([job.id]) == {job.id}
    with pytest.raises(ConfirmationRequired) as waiting:
        priced.start_release(job.id, "mfp-1", "alice")
    assert "Confirm it." in waiting.value.message
    assert priced.jobs.get_job(job.id).state == "held" and priced.accounts.personal("alice").reserved == 0
    priced.release.confirm(job.id, "alice", actor="alice", source="mfp-1")
    assert priced.release.unconfirmed([job.id]) == set()
    assert priced.start_release(job.id, "mfp-1", "alice").state == "releasing"
    assert [e.action for e in priced.audit.entries(action="release.confirm")] == ["release.confirm"]


def test_only_the_owner_confirms_a_job(priced):
    from accounting.errors import JobNotFound

    priced.users.add_user("mallory")
    job = held_for_confirmation(priced, pages=3)
    with pytest.raises(JobNotFound):
        priced.release.confirm(job.id, "mallory", actor="mallory")
    assert priced.release.unconfirmed([job.id]) == {job.id}


def test_an_unconfirmed_job_expires_like_any_held_job(priced):
    from datetime import timedelta

    job = held_for_confirmation(priced, pages=3)
    expired = priced.expire_jobs(job.received_at + timedelta(days=30))
    assert [j.id for j in expired] == [job.id] and priced.jobs.get_job(job.id).state == "expired"


def test_an_unclaimed_job_is_taken_by_whoever_claims_it_and_charged_to_them(priced):
    from accounting.errors import NotClaimable

    priced.users.add_user("unknown@10.0.0.9", balance=500)
    job = held(priced, owner="unknown@10.0.0.9", source_host="10.0.0.9", pages=3)
    assert [j.id for j in priced.release.unclaimed()] == [job.id]
    claimed = priced.release.claim(job.id, "alice", actor="alice", source="mfp-1")
    assert claimed.owner == "alice" and priced.release.unclaimed() == []
    with pytest.raises(NotClaimable):
        priced.release.claim(job.id, "alice", actor="alice")
    priced.start_release(job.id, "mfp-1", "alice")
    priced.charge_release(job.id, "mfp-1", "k", "alice")
    assert priced.accounts.personal("alice").balance == 970
    assert priced.accounts.personal("unknown@10.0.0.9").balance == 500
    assert "claimed by alice (sent as unknown@10.0.0.9)" in [e.reason for e in priced.jobs.job_events(job.id)]


def test_a_job_with_a_known_owner_cannot_be_claimed(priced):
    from accounting.errors import NotClaimable

    priced.users.add_user("bob")
    job = held(priced, owner="bob")
    with pytest.raises(NotClaimable):
        priced.release.claim(job.id, "alice", actor="alice")
    assert priced.jobs.get_job(job.id).owner == "bob"


def test_the_shared_accounts_a_user_may_charge_say_which_need_a_pin(priced):
    priced.accounts.create_shared("cc-4711", pin="9876")
    priced.accounts.create_shared("project-x")
    priced.accounts.create_shared("not-alices")
    priced.accounts.allow("cc-4711", user="alice")
    priced.accounts.allow("project-x", user="alice")
    choices = [(account.name, needs_pin) for account, needs_pin in priced.accounts.shared_choices("alice")]
    assert choices == [("cc-4711", True), ("project-x", False)]
