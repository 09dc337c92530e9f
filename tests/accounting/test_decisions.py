"""The intake decision: rules, price estimate, balance; policy records for refused and
changed jobs."""
from datetime import timedelta

import pytest

from accounting.core import AccountingCore, AccountingSettings
from accounting.pricing import PriceList
from accounting.rules import Rule
from tests.accounting.conftest import T0, new_job


@pytest.fixture
def priced(core):
    core.prices.save(PriceList(name="std", is_default=True, items={("*", False): 10_000, ("*", True): 50_000}))
    core.users.add_user("alice", balance=1000, groups=("staff",))
    return core


def test_an_allowed_job_gets_a_price_estimate_and_a_decision_id(priced):
    decision = priced.decide(new_job(pages=4, color_pages=1))
    assert (decision.action, decision.price_estimate, decision.rule) == ("allow", 80, "")
    assert len(decision.id) == 36 and not decision.refused


def test_an_allowed_job_writes_no_policy_record(priced):
    priced.decide(new_job())
    assert priced.decisions.policy_records() == []


def test_a_denied_job_gets_a_policy_record_with_everything_the_report_shows(priced):
    priced.rules.add(Rule("too-big", "deny", {"pages": {"min": 50}}, {"message": "Max 50 pages, please."}))
    decision = priced.decide(new_job(pages=60, title="thesis.pdf", source_host="ws7"), at=T0)
    assert (decision.action, decision.message, decision.rule) == ("deny", "Max 50 pages, please.", "too-big")
    [record] = priced.decisions.policy_records()  # reading flushes pending refusals
    assert (record.decision_id, record.workstation, record.server, record.queue, record.document_name,
            record.username, record.duplex, record.color, record.impressions, record.price, record.action,
            record.message, record.rule_name, record.notified) == (
        decision.id, "ws7", "gw1", "secure", "thesis.pdf", "alice", False, False, 60, 600, "deny",
        "Max 50 pages, please.", "too-big", False)
    assert any(a.action == "rule.deny" for a in priced.audit.entries())


def test_a_refusal_record_waits_for_the_next_group_commit_not_for_its_own(priced):
    priced.rules.add(Rule("too-big", "deny", {"pages": {"min": 50}}))
    priced.decide(new_job(pages=60))
    with priced.database.reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM policy_records").scalar() == 0
    priced.jobs.record_jobs([new_job(pages=1)])
    with priced.database.reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM policy_records").scalar() == 1


def test_a_refusal_record_older_than_a_second_is_written_by_the_next_decision(priced, monkeypatch):
    priced.rules.add(Rule("too-big", "deny", {"pages": {"min": 50}}))
    priced.decide(new_job(pages=60))
    monkeypatch.setattr(priced.decisions.pending, "max_age", 0.0)
    priced.decide(new_job(pages=1))
    with priced.database.reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM policy_records").scalar() == 1


def test_a_changed_job_is_repriced_and_recorded(priced):
    priced.rules.add(Rule("mono", "force-mono", {"color": True}, {"message": "Printed in black and white."}))
    decision = priced.decide(new_job(pages=4, color_pages=4))
    assert (decision.action, decision.changes, decision.price_estimate) == ("allow", {"mono": True}, 40)
    assert priced.decisions.policy_records() == []  # written with the job, in its group commit
    job = new_job(pages=4, color_pages=4)
    job.decision = decision
    priced.jobs.record_jobs([job])
    [record] = priced.decisions.policy_records()
    assert (record.action, record.changes, record.color) == ("change", {"mono": True}, False)


def test_the_decision_is_stored_with_the_job(priced):
    priced.rules.add(Rule("dup", "force-duplex", {"pages": {"min": 2}}))
    job = new_job(pages=4)
    job.decision = priced.decide(job)
    [held] = priced.jobs.record_jobs([job])
    assert (held.decision_id, held.decision_action, held.decision_rule, held.decision_changes, held.price_estimate) == (
        job.decision.id, "allow", "dup", {"duplex": True}, 40)


def test_a_job_the_balance_cannot_cover_is_denied_with_both_amounts(priced):
    decision = priced.decide(new_job(pages=200))
    assert (decision.action, decision.rule) == ("deny", "balance")
    assert "10.00 EUR" in decision.message and "20.00 EUR" in decision.message


def test_an_unrestricted_account_is_not_stopped_by_its_balance(priced):
    priced.accounts.configure("alice", restricted=False)
    assert priced.decide(new_job(pages=200)).action == "allow"


def test_a_rule_may_require_a_shared_account_instead_of_the_balance(priced):
    priced.rules.add(Rule("shared", "require-shared-account", {"groups": ["staff"]}))
    decision = priced.decide(new_job(pages=200))
    assert decision.action == "allow" and decision.require_shared_account


def test_group_membership_is_seen_by_rules(priced):
    priced.rules.add(Rule("staff-no-color", "deny", {"groups": ["staff"], "color": True}))
    assert priced.decide(new_job(pages=1, color_pages=1)).action == "deny"
    assert priced.decide(new_job(pages=1)).action == "allow"


def test_hold_confirm_is_returned_with_its_message(priced):
    priced.rules.add(Rule("confirm", "hold-confirm", {"cost": {"min": 100}}))
    decision = priced.decide(new_job(pages=20))
    assert decision.action == "hold-confirm" and "2.00 EUR" in decision.message


def test_notify_actions_mark_the_policy_record_notified(priced):
    priced.rules.add(Rule("tell", "notify", {}, {"to": "owner"}))
    priced.rules.add(Rule("deny-all", "deny", {"pages": {"min": 10}}))
    decision = priced.decide(new_job(pages=10))
    assert decision.notify and priced.decisions.policy_records()[0].notified


def test_an_unknown_user_is_created_with_an_empty_personal_account(priced):
    decision = priced.decide(new_job(owner="newbie", pages=1))
    assert (decision.action, decision.rule) == ("deny", "balance")
    assert priced.users.get_user("newbie").source == "auto"


def test_unknown_users_can_be_refused_instead(database, hasher):
    core = AccountingCore(database, AccountingSettings(unknown_users="deny"), hasher=hasher)
    decision = core.decide(new_job(owner="stranger"))
    assert (decision.action, decision.rule) == ("deny", "unknown-user")


def test_a_disabled_user_is_refused(priced):
    priced.users.set_enabled("alice", False)
    assert priced.decide(new_job()).rule == "disabled-user"


def test_a_rule_change_is_seen_by_the_next_decision(priced):
    assert priced.decide(new_job()).action == "allow"
    priced.rules.add(Rule("closed", "deny", {}))
    assert priced.decide(new_job()).action == "deny"


def test_time_of_day_rules_use_the_job_time(priced):
    priced.rules.add(Rule("night", "deny", {"hours": "20:00-06:00"}))
    assert priced.decide(new_job(), at=T0).action == "allow"
    assert priced.decide(new_job(), at=T0 + timedelta(hours=12)).action == "deny"


def test_a_job_the_analyzer_could_not_count_is_priced_by_the_unknown_page_rule_and_flagged(priced):
    priced.prices.save(PriceList(name="std", is_default=True, unknown_pages=5,
                                 items={("*", False): 10_000, ("*", True): 50_000}))
    decision = priced.decide(new_job(facts=False, color_mode="monochrome"))
    assert (decision.uncounted, decision.price_estimate) == (True, 50)
    assert priced.decide(new_job(pages=1)).uncounted is False


def _comparable(decision):
    return (decision.action, decision.rule, decision.price_estimate, decision.message, decision.account_id)


def test_owners_read_once_for_a_group_decide_exactly_as_one_read_per_job(priced):
    priced.users.add_user("bob", balance=0, groups=("staff", "students"))
    priced.users.add_user("carol", balance=5000)
    priced.users.set_enabled("carol", False)
    jobs = [new_job("alice", pages=4), new_job("bob", pages=1), new_job("carol"), new_job("alice", pages=200),
            new_job("dave")]  # dave is unknown: created by the decision
    alone = [_comparable(priced.decide(job)) for job in jobs[:4]]
    with priced.owners_read_once(jobs):
        grouped = [_comparable(priced.decide(job)) for job in jobs]
    assert grouped[:4] == alone
    erin = priced.decide(new_job("erin"))  # another unknown user, decided alone
    assert grouped[4][:2] == (erin.action, erin.rule) and priced.users.get_user("dave") is not None
    assert [d[0] for d in grouped[:4]] == ["allow", "deny", "deny", "deny"]


def test_owners_read_once_ends_with_its_block(priced):
    with priced.owners_read_once([new_job("alice")]):
        assert priced.decide(new_job("alice")).action == "allow"
    priced.users.set_enabled("alice", False)
    assert priced.decide(new_job("alice")).action == "deny"


def test_an_unclaimed_job_is_held_without_a_user_or_a_balance_check(priced):
    job = new_job(owner="unknown@10.0.0.9", pages=500)
    job.attributes = {"unclaimed": True}
    decision = priced.decide(job)
    assert (decision.action, decision.user_id, decision.account_id) == ("allow", None, None)
    assert decision.price_estimate > 0
    assert "unknown@10.0.0.9" not in {user.username for user in priced.users.list_users()}


def test_a_rule_still_refuses_an_unclaimed_job(priced):
    priced.rules.add(Rule("no-huge", "deny", {"pages": {"min": 100}}))
    job = new_job(owner="unknown@10.0.0.9", pages=500)
    job.attributes = {"unclaimed": True}
    assert priced.decide(job).rule == "no-huge"


def test_a_decision_names_the_owners_user_row(priced):
    assert priced.decide(new_job()).user_id == priced.users.get_user("alice").id


@pytest.mark.parametrize("policy, created", [("always", {"bob", "bob@example.org", "eve@evil.test"}),
                                             ("known-domains", {"bob@example.org"}),
                                             ("never", set())])
def test_stated_names_become_users_as_the_auto_create_policy_says(database, hasher, policy, created):
    core = AccountingCore(database, AccountingSettings(unknown_users=policy, known_domains=("Example.org",)),
                          hasher=hasher)
    for name in ("bob", "bob@example.org", "eve@evil.test"):
        decision = core.decide(new_job(owner=name))
        assert (decision.rule == "unknown-user") == (name not in created)
    assert {user.username for user in core.users.list_users()} == created


def test_a_refused_job_is_recorded_with_its_decision_and_waits_to_be_notified(priced):
    priced.rules.add(Rule("watch", "notify", {"users": ["alice"]}, {"to": "owner"}))
    priced.rules.add(Rule("too-big", "deny", {"pages": {"min": 50}}, {"message": "Max 50 pages."}))
    decision = priced.decide(new_job(pages=60, title="thesis"))
    assert priced.decisions.pending.flush() == 1
    [(job, told)] = priced.decisions.pending.take_written()
    assert told is decision and decision.notify
    [listed] = priced.jobs.list_jobs(states=("refused",))
    assert (listed.id, listed.state, listed.title, listed.decision_rule, listed.spool_name) == (
        job.id, "refused", "thesis", "too-big", None)
    assert listed.state_reason == "Max 50 pages." and listed.user_id == priced.users.get_user("alice").id
    assert priced.jobs.policy_record(listed.decision_id)["rule_name"] == "too-big"


def test_a_stated_name_no_user_may_have_is_refused_as_unknown_not_an_error(priced):
    decision = priced.decide(new_job(owner="fuz{"))
    assert (decision.action, decision.rule) == ("deny", "unknown-user")
