"""``printgate period close YYYY-MM | list | correct ENTRY AMOUNT --reason TEXT``.

Closing a month freezes its figures: afterwards nothing may be dated inside it, and its
reports are the same, byte for byte, every time they are run. A correction of a closed
month is an adjustment in the open period naming the entry it corrects."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import json

from gateway.cli.accounts import open_core, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("period", help="close a month's figures; correct a closed month")
    commands = parser.add_subparsers(dest="period_command", required=True)
    close = commands.add_parser("close", help="freeze a past month (YYYY-MM, in the configured time zone)")
    close.add_argument("period", metavar="YYYY-MM")
    close.set_defaults(handler=close_period)
    listing = commands.add_parser("list", help="closed months")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_periods)
    correct = commands.add_parser("correct", help="correct a ledger entry by an adjustment dated now")
    correct.add_argument("entry", type=int, help="the ledger entry id (printgate ledger show ACCOUNT)")
    correct.add_argument("amount", help="signed, in currency units: -1.20 takes 1.20 more, 1.20 gives it back")
    correct.add_argument("--reason", required=True)
    correct.set_defaults(handler=correct_entry)


@reports_errors
def close_period(args) -> int:
    core = open_core(args)
    closed = core.periods.close(args.period, actor="cli")
    print(f"{closed.period} closed: {closed.starts_at:%Y-%m-%d %H:%M} to {closed.ends_at:%Y-%m-%d %H:%M} UTC "
          f"({closed.timezone}); nothing may be dated inside it any more")
    return 0


@reports_errors
def list_periods(args) -> int:
    core = open_core(args)
    periods = core.periods.list()
    if args.json:
        print(json.dumps([{"period": p.period, "starts_at": p.starts_at.isoformat(), "ends_at": p.ends_at.isoformat(),
                           "timezone": p.timezone, "closed_at": p.closed_at.isoformat(), "closed_by": p.closed_by}
                          for p in periods], indent=2))
        return 0
    for p in periods:
        print(f"{p.period}  closed {p.closed_at:%Y-%m-%d %H:%M} UTC by {p.closed_by} ({p.timezone})")
    return 0


@reports_errors
def correct_entry(args) -> int:
    from accounting.money import format_amount, parse_amount

    core = open_core(args)
    entry = core.ledger.correct(args.entry, parse_amount(args.amount), actor="cli", reason=args.reason)
    print(f"entry {entry.id}: adjustment {format_amount(entry.amount)} correcting entry {args.entry}, "
          f"balance {format_amount(entry.balance_after)}")
    return 0
