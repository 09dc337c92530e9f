"""``printgate ledger show ACCOUNT``: an account's ledger, oldest first, with the
balance after each entry (an account's balance is the sum of its ledger)."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import json

from gateway.cli.accounts import open_core, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("ledger", help="money movements of an account")
    commands = parser.add_subparsers(dest="ledger_command", required=True)
    show = commands.add_parser("show", help="an account's ledger")
    show.add_argument("account", help="account name (a user's personal account is named after the user)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_ledger)


@reports_errors
def show_ledger(args) -> int:
    from accounting.money import format_amount

    core = open_core(args, create=False)
    entries = core.ledger.entries(args.account)
    if args.json:
        print(json.dumps([{**e.__dict__, "created_at": e.created_at.isoformat()} for e in entries], indent=2))
        return 0
    print(f"{'ID':>7}  {'WHEN (UTC)':<19} {'KIND':<12} {'AMOUNT':>11} {'BALANCE':>11} {'JOB':>7}  {'ACTOR':<12} REASON")
    for e in entries:
        job = "" if e.job_id is None else str(e.job_id)
        print(f"{e.id:>7}  {e.created_at:%Y-%m-%d %H:%M:%S} {e.kind:<12} {format_amount(e.amount):>11} "
              f"{format_amount(e.balance_after):>11} {job:>7}  {e.actor[:12]:<12} {e.reason}")
    return 0
