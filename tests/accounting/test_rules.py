"""Rules: every condition, every action, validation, ordering, storage, trials."""
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from accounting.errors import InvalidRule
from accounting.rules import Rule, RuleContext, evaluate, matches, validate
from tests.accounting.conftest import T0, new_job

UTC = ZoneInfo("UTC")


def ctx(**overrides):
    base = dict(user="alice", groups=frozenset({"staff"}), queue="secure", device_class="a4-color", pages=10,
                copies=2, impressions=20, sheets=20, color_pages=3, duplex=False, color=True, media="A4",
                document="Budget 2026.xlsx", language="pcl5", source_host="ws12.example.org",
                at=datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc), cost=150, available=500, quota_left=400)
    base.update(overrides)
    return RuleContext(**base)


CONDITION_CASES = [
    ({"users": ["alice"]}, {"users": ["bob"]}),
    ({"groups": ["staff", "x"]}, {"groups": ["students"]}),
    ({"queues": ["secure"]}, {"queues": ["color"]}),
    ({"device_classes": ["a4-color"]}, {"device_classes": ["a3"]}),
    ({"pages": {"min": 10}}, {"pages": {"min": 11}}),
    ({"copies": {"max": 2}}, {"copies": {"max": 1}}),
    ({"impressions": {"min": 1, "max": 20}}, {"impressions": {"min": 21}}),
    ({"sheets": {"min": 20}}, {"sheets": {"max": 19}}),
    ({"color_pages": {"min": 1}}, {"color_pages": {"max": 0}}),
    ({"cost": {"min": 100}}, {"cost": {"max": 99}}),
    ({"available": {"min": 0}}, {"available": {"max": 100}}),
    ({"quota_left": {"min": 400}}, {"quota_left": {"max": 0}}),
    ({"duplex": False}, {"duplex": True}),
    ({"color": True}, {"color": False}),
    ({"media": ["A4", "Letter"]}, {"media": ["A3"]}),
    ({"document": "*.XLSX"}, {"document": "*.pdf"}),
    ({"languages": ["PCL5"]}, {"languages": ["pdf"]}),
    ({"source_hosts": ["ws*.example.org"]}, {"source_hosts": ["lab-*"]}),
    ({"hours": "08:00-18:00"}, {"hours": "18:00-08:00"}),
    ({"weekdays": ["mon", "Tuesday"]}, {"weekdays": ["sat", "sun"]}),
]


@pytest.mark.parametrize("hit, miss", CONDITION_CASES, ids=[next(iter(c[0])) for c in CONDITION_CASES])
def test_each_condition_matches_and_misses(hit, miss):
    assert matches(validate(Rule("r", "deny", hit)), ctx(), UTC)
    assert not matches(validate(Rule("r", "deny", miss)), ctx(), UTC)


def test_all_conditions_of_a_rule_must_hold():
    rule = Rule("r", "deny", {"users": ["alice"], "pages": {"min": 100}})
    assert not matches(rule, ctx(), UTC)


def test_hours_may_wrap_past_midnight():
    night = Rule("r", "deny", {"hours": "22:00-06:00"})
    assert matches(night, ctx(at=datetime(2026, 3, 2, 23, 0, tzinfo=timezone.utc)), UTC)
    assert matches(night, ctx(at=datetime(2026, 3, 2, 5, 59, tzinfo=timezone.utc)), UTC)
    assert not matches(night, ctx(at=datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)), UTC)


def test_hours_are_local_time():
    rule = Rule("r", "deny", {"hours": "09:00-10:00"})
    at = datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)  # 09:30 in Zurich
    assert matches(rule, ctx(at=at), ZoneInfo("Europe/Zurich"))
    assert not matches(rule, ctx(at=at), UTC)


def test_an_unknown_available_balance_does_not_match_a_range():
    assert not matches(Rule("r", "deny", {"available": {"max": 10}}), ctx(available=None), UTC)


def test_no_matching_rule_allows():
    outcome = evaluate([Rule("r", "deny", {"users": ["bob"]})], ctx(), tz=UTC)
    assert (outcome.action, outcome.rule) == ("allow", "")


def test_deny_stops_with_its_message_rendered():
    outcome = evaluate([Rule("big", "deny", {"pages": {"min": 5}}, {"message": "{user}: {pages} pages is too many"})],
                       ctx(), tz=UTC)
    assert (outcome.action, outcome.rule, outcome.message) == ("deny", "big", "alice: 10 pages is too many")


def test_deny_has_a_default_message_naming_the_rule():
    assert "no-color" in evaluate([Rule("no-color", "deny", {"color": True})], ctx(), tz=UTC).message


def test_hold_confirm_shows_the_price():
    outcome = evaluate([Rule("confirm", "hold-confirm", {"cost": {"min": 100}})], ctx(), tz=UTC,
                       format_price=lambda m: f"{m / 100:.2f} EUR")
    assert outcome.action == "hold-confirm" and "1.50 EUR" in outcome.message


def test_the_first_final_rule_in_order_wins():
    rules = [Rule("a", "allow", {"users": ["alice"]}), Rule("b", "deny", {})]
    assert evaluate(rules, ctx(), tz=UTC).action == "allow"
    assert evaluate(list(reversed(rules)), ctx(), tz=UTC).action == "deny"


def test_disabled_rules_are_skipped():
    assert evaluate([Rule("b", "deny", {}, enabled=False)], ctx(), tz=UTC).action == "allow"


def test_force_mono_changes_the_job_and_reprices_it_for_later_rules():
    rules = [Rule("mono", "force-mono", {"color": True}), Rule("still-color", "deny", {"color": True})]
    outcome = evaluate(rules, ctx(), tz=UTC, reprice=lambda changes: {"color": False, "cost": 40})
    assert outcome.action == "allow" and outcome.changes == {"mono": True}
    assert outcome.rule == "mono"


def test_force_duplex_is_a_change():
    assert evaluate([Rule("dup", "force-duplex", {"pages": {"min": 2}})], ctx(), tz=UTC).changes == {"duplex": True}


def test_cap_copies_keeps_the_smallest_cap_and_ignores_jobs_below_it():
    rules = [Rule("cap5", "cap-copies", {}, {"copies": 5}), Rule("cap1", "cap-copies", {}, {"copies": 1})]
    assert evaluate(rules, ctx(copies=10), tz=UTC).changes == {"copies": 1}
    assert evaluate([Rule("cap5", "cap-copies", {}, {"copies": 5})], ctx(copies=2), tz=UTC).changes == {}


def test_notify_collects_a_notification_and_goes_on():
    outcome = evaluate([Rule("n", "notify", {}, {"to": "boss@example.org", "message": "{user} prints {pages}"}),
                        Rule("d", "deny", {})], ctx(), tz=UTC)
    assert outcome.notify == [{"rule": "n", "to": "boss@example.org", "message": "alice prints 10"}]
    assert outcome.action == "deny"


def test_require_shared_account_and_route_are_recorded():
    outcome = evaluate([Rule("shared", "require-shared-account", {}),
                        Rule("r", "route", {}, {"device_class": "a3"})], ctx(), tz=UTC)
    assert outcome.require_shared_account and outcome.route_to == "a3"


@pytest.mark.parametrize("rule, problem", [
    (Rule("r", "explode"), "unknown action"),
    (Rule("r", "deny", {"colour": True}), "unknown condition"),
    (Rule("r", "deny", {"pages": 5}), "pages takes"),
    (Rule("r", "deny", {"pages": {"min": 1.5}}), "pages takes"),
    (Rule("r", "deny", {"users": []}), "non-empty list"),
    (Rule("r", "deny", {"weekdays": ["someday"]}), "weekdays"),
    (Rule("r", "deny", {"hours": "9-5pm"}), "hours"),
    (Rule("r", "deny", {"duplex": "yes"}), "true or false"),
    (Rule("r", "cap-copies", {}, {}), "copies"),
    (Rule("r", "route", {}, {}), "device_class"),
    (Rule("", "deny"), "name"),
])
def test_invalid_rules_are_refused_with_the_problem(rule, problem):
    with pytest.raises(InvalidRule) as caught:
        validate(rule)
    assert problem in str(caught.value)


def test_rules_are_stored_in_order_and_changes_are_audited(core):
    core.rules.add(Rule("first", "deny", {"pages": {"min": 500}}))
    core.rules.add(Rule("second", "force-duplex", {"pages": {"min": 10}}))
    assert [r.name for r in core.rules.list()] == ["first", "second"]
    core.rules.set_enabled("first", False)
    assert [r.name for r in core.rules.active()] == ["second"]
    core.rules.remove("second")
    assert [a.action for a in core.audit.entries()][:4] == ["rule.remove", "rule.disable", "rule.add", "rule.add"]
    with pytest.raises(InvalidRule):
        core.rules.add(Rule("first", "deny"))


def test_a_rule_can_be_tested_against_past_jobs_before_it_is_enabled(core):
    from accounting.pricing import PriceList

    core.prices.save(PriceList(name="std", is_default=True, items={("*", False): 10_000, ("*", True): 50_000}))
    core.jobs.record_jobs([
        new_job(pages=100, received_at=T0 - timedelta(days=40)),
        new_job(pages=100, received_at=T0 - timedelta(days=10)),
        new_job(pages=3, received_at=T0 - timedelta(days=9)),
        new_job(pages=20, color_pages=20, received_at=T0 - timedelta(days=8)),
    ])
    trial = core.test_rule(Rule("no-big", "deny", {"pages": {"min": 50}}, enabled=False), since=T0 - timedelta(days=30))
    assert trial.examined == 3 and trial.counts == {"deny": 1} and trial.saved == 1000
    mono = core.test_rule(Rule("mono", "force-mono", {"color": True}), since=T0 - timedelta(days=30))
    assert mono.counts == {"change": 1} and mono.saved == 20 * 40
    assert core.rules.list() == []  # nothing was stored


def test_a_rule_is_changed_in_place_keeping_its_position(core):
    core.rules.add(Rule(name="big", action="deny", conditions={"pages": {"min": 500}}))
    core.rules.add(Rule(name="mono", action="force-mono"))
    changed = core.rules.replace("big", Rule(name="huge", action="hold-confirm", conditions={"pages": {"min": 900}},
                                             params={"message": "Sure?"}, enabled=False))
    assert [r.name for r in core.rules.list()] == ["huge", "mono"]
    assert (changed.action, changed.conditions, changed.params, changed.enabled) == (
        "hold-confirm", {"pages": {"min": 900}}, {"message": "Sure?"}, False)
    with pytest.raises(InvalidRule):
        core.rules.replace("huge", Rule(name="mono", action="allow"))
    assert core.audit.entries(action="rule.edit")[0].target == "big"


def test_rules_are_reordered_before_after_first_and_last(core):
    for name in ("a", "b", "c"):
        core.rules.add(Rule(name=name, action="notify"))
    assert [r.name for r in core.rules.move("c", before="a")] == ["c", "a", "b"]
    assert [r.name for r in core.rules.move("c", after="b")] == ["a", "b", "c"]
    assert [r.name for r in core.rules.move("b")] == ["b", "a", "c"]
    assert [r.name for r in core.rules.move("b", after="")] == ["a", "c", "b"]
    assert [r.position for r in core.rules.list()] == [10, 20, 30]
    with pytest.raises(InvalidRule):
        core.rules.move("a", before="nope")


@pytest.mark.parametrize("at, inside", [
    (datetime(2026, 3, 28, 7, 30, tzinfo=timezone.utc), False),  # 08:30 CET, the day before DST starts
    (datetime(2026, 3, 29, 7, 30, tzinfo=timezone.utc), True),   # 09:30 CEST, DST started at 01:00 UTC
    (datetime(2026, 10, 25, 15, 30, tzinfo=timezone.utc), True),  # 16:30 CET, the day DST ends
    (datetime(2026, 10, 24, 15, 30, tzinfo=timezone.utc), False),  # 17:30 CEST
])
def test_office_hours_follow_the_configured_zone_across_daylight_saving_time(at, inside):
    rule = Rule(name="office", action="deny", conditions={"hours": "09:00-17:00"})
    assert matches(rule, ctx(at=at), ZoneInfo("Europe/Paris")) is inside


def test_the_rule_reference_describes_exactly_the_conditions_and_actions_there_are():
    from accounting import rule_reference
    from accounting.rules import ACTIONS, CONDITIONS

    assert set(rule_reference.CONDITIONS) == set(CONDITIONS)
    assert set(rule_reference.ACTIONS) == set(ACTIONS)
    for name, (_, example) in rule_reference.CONDITIONS.items():
        validate(Rule(name="example", action="allow", conditions=json.loads(example)))
