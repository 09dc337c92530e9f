"""``printgate rules list|add|edit|move|remove|enable|disable|test``: the ordered intake rules.

Conditions are given as JSON (``--when '{"pages": {"min": 50}, "groups": ["students"]}'``);
``printgate rules add --help`` lists every condition and action with an example
(``accounting.rule_reference``). ``rules test`` shows what a rule — a stored one by name,
or one described with the same options as ``add`` — would have done to the jobs received
since a date, without changing anything."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import argparse
import json
from datetime import datetime, timezone

from accounting.rule_reference import ACTIONS, help_text
from gateway.cli.accounts import open_core, reports_errors


def _rule_options(parser, *, when_default="{}") -> None:
    parser.add_argument("name")
    parser.add_argument("--action", default=None, choices=ACTIONS, metavar="ACTION",
                        help="one of: " + ", ".join(ACTIONS) + " (see below)")
    parser.add_argument("--when", default=when_default, help="conditions as a JSON object (see below)")
    parser.add_argument("--message", default=None, help="what the user sees")
    parser.add_argument("--copies", type=int, default=None, help="for cap-copies")
    parser.add_argument("--to", default=None, help="for notify: owner, an address or a webhook URL")
    parser.add_argument("--device-class", default=None, help="for route")


def register(subparsers) -> None:
    parser = subparsers.add_parser("rules", help="rules applied to every job at intake")
    commands = parser.add_subparsers(dest="rules_command", required=True)
    listing = commands.add_parser("list", help="rules in the order they are tried")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_rules)
    reference = {"epilog": help_text(), "formatter_class": argparse.RawDescriptionHelpFormatter}
    add = commands.add_parser("add", help="add a rule (after the last one unless --position)", **reference)
    _rule_options(add)
    add.add_argument("--position", type=int, default=0)
    add.add_argument("--disabled", action="store_true", help="store it without applying it yet")
    add.set_defaults(handler=add_rule)
    edit = commands.add_parser("edit", help="change a rule in place (options not given stay as they are)",
                               **reference)
    _rule_options(edit, when_default=None)
    edit.add_argument("--rename", default=None, metavar="NEW_NAME")
    edit.set_defaults(handler=edit_rule)
    move = commands.add_parser("move", help="put a rule before or after another one (rules are tried in order)")
    move.add_argument("name")
    where = move.add_mutually_exclusive_group(required=True)
    where.add_argument("--before", metavar="RULE")
    where.add_argument("--after", metavar="RULE")
    where.add_argument("--first", action="store_true")
    where.add_argument("--last", action="store_true")
    move.set_defaults(handler=move_rule)
    for verb, handler in (("remove", remove_rule), ("enable", enable_rule), ("disable", disable_rule)):
        sub = commands.add_parser(verb, help=f"{verb} a rule")
        sub.add_argument("name")
        sub.set_defaults(handler=handler)
    test = commands.add_parser("test", help="what a rule would have done to past jobs", **reference)
    _rule_options(test)
    test.add_argument("--since", required=True, help="date (YYYY-MM-DD) or ISO time, UTC")
    test.add_argument("--until", default=None)
    test.add_argument("--jobs", action="store_true", help="list every matched job")
    test.set_defaults(handler=test_rule)


def _conditions(text: str) -> dict:
    try:
        conditions = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--when is not JSON: {exc}") from None
    if not isinstance(conditions, dict):
        raise ValueError("--when takes a JSON object")
    return conditions


def _params(args) -> dict:
    return {key: value for key, value in (("message", args.message), ("copies", args.copies), ("to", args.to),
                                          ("device_class", args.device_class)) if value is not None}


def _build(args):
    from accounting.rules import Rule

    return Rule(name=args.name, action=args.action, conditions=_conditions(args.when), params=_params(args),
                position=getattr(args, "position", 0), enabled=not getattr(args, "disabled", False))


def _time(text):
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@reports_errors
def list_rules(args) -> int:
    core = open_core(args, create=False)
    rules = core.rules.list()
    if args.json:
        print(json.dumps([r.to_json() for r in rules], indent=2))
        return 0
    for r in rules:
        state = "" if r.enabled else " (disabled)"
        print(f"{r.position:>5}  {r.name}{state}: {r.action} when {json.dumps(r.conditions)}"
              + (f" {json.dumps(r.params)}" if r.params else ""))
    return 0


@reports_errors
def add_rule(args) -> int:
    if not args.action:
        raise ValueError("--action is required")
    core = open_core(args)
    rule = core.rules.add(_build(args), actor="cli")
    print(f"rule {rule.name} added at position {rule.position}")
    return 0


@reports_errors
def edit_rule(args) -> int:
    from dataclasses import replace

    core = open_core(args)
    old = core.rules.get(args.name)
    conditions = old.conditions if args.when is None else _conditions(args.when)
    params = {**old.params, **_params(args)}
    new = replace(old, name=args.rename or old.name, action=args.action or old.action, conditions=conditions,
                  params=params)
    rule = core.rules.replace(args.name, new, actor="cli")
    print(f"rule {rule.name} changed: {rule.action} when {json.dumps(rule.conditions)}"
          + (f" {json.dumps(rule.params)}" if rule.params else ""))
    return 0


@reports_errors
def move_rule(args) -> int:
    core = open_core(args)
    order = core.rules.move(args.name, before=args.before, after="" if args.last else args.after, actor="cli")
    print("rules are now tried in this order: " + ", ".join(r.name for r in order))
    return 0


@reports_errors
def remove_rule(args) -> int:
    open_core(args).rules.remove(args.name, actor="cli")
    print(f"rule {args.name} removed")
    return 0


@reports_errors
def enable_rule(args) -> int:
    open_core(args).rules.set_enabled(args.name, True, actor="cli")
    print(f"rule {args.name} enabled")
    return 0


@reports_errors
def disable_rule(args) -> int:
    open_core(args).rules.set_enabled(args.name, False, actor="cli")
    print(f"rule {args.name} disabled")
    return 0


@reports_errors
def test_rule(args) -> int:
    from accounting.money import format_amount

    core = open_core(args, create=False)
    rule = _build(args) if args.action else core.rules.get(args.name)
    trial = core.test_rule(rule, since=_time(args.since), until=_time(args.until) if args.until else None)
    matched = sum(trial.counts.values())
    print(f"rule {trial.rule}: {trial.examined} jobs since {args.since}, {matched} matched")
    for effect, count in sorted(trial.counts.items()):
        print(f"  {effect:<24} {count}")
    print(f"  money not printed        {format_amount(trial.saved)}")
    if args.jobs:
        for job in trial.jobs:
            print(f"  job {job.job_id:>7} {job.owner:<16} {job.effect:<12} {format_amount(job.price_before):>9} → "
                  f"{format_amount(job.price_after):>9}  {job.title}")
    return 0
