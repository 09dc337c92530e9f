"""``printgate quotas add|list|remove``: allowances granted on a schedule.

A quota credits an amount to one user's personal account, or to every member of a group,
once per period — daily, weekly (from Monday) or monthly (from the 1st), in the
configured ``[server] timezone``, or every N days. ``--cap`` stops unused allowance from
piling up: a grant only tops the balance up to the cap. The running gateway grants what
is due when it starts and every few minutes (``printgate serve``), at most once per
quota, account and period, however many gateways share the database."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import json

from gateway.cli.accounts import open_core, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("quotas", help="scheduled allowances per user or group")
    commands = parser.add_subparsers(dest="quotas_command", required=True)
    add = commands.add_parser("add", help="grant an amount every day, week or month (or every N days)")
    add.add_argument("name")
    who = add.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="one user's personal account")
    who.add_argument("--group", help="every member of this group, each on their own account")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--period", choices=("daily", "weekly", "monthly"))
    when.add_argument("--every-days", type=int, metavar="N", help="every N days instead")
    add.add_argument("--amount", required=True, help="in currency units, e.g. 5.00")
    add.add_argument("--cap", default=None,
                     help="top the balance up to at most this (unused allowance does not pile up beyond it)")
    add.set_defaults(handler=add_quota)
    listing = commands.add_parser("list", help="quotas and whom they credit")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_quotas)
    remove = commands.add_parser("remove", help="stop granting a quota (past grants stay in the ledger)")
    remove.add_argument("name")
    remove.set_defaults(handler=remove_quota)


@reports_errors
def add_quota(args) -> int:
    from accounting.money import parse_amount

    core = open_core(args)
    quota = core.quotas.add(args.name, amount=parse_amount(args.amount), user=args.user, group=args.group,
                            period="custom" if args.every_days else args.period, period_days=args.every_days,
                            cap=parse_amount(args.cap) if args.cap is not None else None, actor="cli")
    print(f"quota {quota.name}: {args.amount} {_period(quota)} to {_whom(quota)}"
          + (f", up to a balance of {args.cap}" if args.cap is not None else ""))
    return 0


def _period(quota) -> str:
    return f"every {quota.period_days} days" if quota.period == "custom" else quota.period


def _whom(quota) -> str:
    return f"user {quota.user}" if quota.user is not None else f"each member of {quota.group}"


@reports_errors
def list_quotas(args) -> int:
    from accounting.money import format_amount

    quotas = open_core(args, create=False).quotas.list()
    if args.json:
        print(json.dumps([q.__dict__ for q in quotas], indent=2))
        return 0
    print(f"{'QUOTA':<20} {'FOR':<24} {'PERIOD':<14} {'AMOUNT':>10} {'CAP':>10}")
    for q in quotas:
        cap = "-" if q.cap is None else format_amount(q.cap)
        print(f"{q.name[:20]:<20} {_whom(q)[:24]:<24} {_period(q):<14} {format_amount(q.amount):>10} {cap:>10}")
    return 0


@reports_errors
def remove_quota(args) -> int:
    open_core(args).quotas.remove(args.name, actor="cli")
    print(f"quota {args.name} removed")
    return 0
