"""``printgate users add|import|list|set-pin|add-card``: people who print.

``users import FILE.csv`` takes a header row naming any of ``username, full_name,
email, cost_center, groups, cards, pin, balance`` (``groups`` and ``cards`` separated
by ";", ``balance`` in currency units). A malformed row stops the import with its line
number and nothing of the file is kept."""
from __future__ import annotations

import getpass
import json
import sys

from gateway.cli.accounts import open_core, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("users", help="add, import and list users; PINs and cards")
    commands = parser.add_subparsers(dest="users_command", required=True)
    add = commands.add_parser("add", help="add a user (with a personal account)")
    add.add_argument("username")
    add.add_argument("--full-name", default="")
    add.add_argument("--email", default="")
    add.add_argument("--cost-center", default="")
    add.add_argument("--group", action="append", default=[], help="repeat for several")
    add.add_argument("--card", action="append", default=[], help="repeat for several")
    add.add_argument("--balance", default=None, help="opening balance in currency units")
    add.set_defaults(handler=add_user)
    imp = commands.add_parser("import", help="create or update users from a CSV file (all rows or none)")
    imp.add_argument("csv_file")
    imp.set_defaults(handler=import_users)
    listing = commands.add_parser("list", help="users with groups, cards and balance")
    listing.add_argument("--group", default=None)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_users)
    pin = commands.add_parser("set-pin", help="set a user's PIN (asked for, or read from stdin)")
    pin.add_argument("username")
    pin.add_argument("--stdin", action="store_true", help="read the PIN from standard input")
    pin.set_defaults(handler=set_pin)
    card = commands.add_parser("add-card", help="register a card number to a user")
    card.add_argument("username")
    card.add_argument("card")
    card.set_defaults(handler=add_card)
    notices = commands.add_parser("notices", help="which notices a user gets by mail (turn kinds on or off)")
    notices.add_argument("username")
    notices.add_argument("--off", action="append", default=[], metavar="NOTICE", help="repeat for several")
    notices.add_argument("--on", action="append", default=[], metavar="NOTICE", help="repeat for several")
    notices.set_defaults(handler=user_notices)


@reports_errors
def add_user(args) -> int:
    from accounting.money import parse_amount

    core = open_core(args)
    user = core.users.add_user(args.username, full_name=args.full_name, email=args.email,
                               cost_center=args.cost_center, groups=tuple(args.group), cards=tuple(args.card),
                               balance=parse_amount(args.balance) if args.balance is not None else None, actor="cli")
    print(f"user {user.username} added")
    return 0


@reports_errors
def import_users(args) -> int:
    core = open_core(args)
    with open(args.csv_file, encoding="utf-8-sig", newline="") as handle:
        text = handle.read()
    count = core.users.import_csv(_balances_to_minor_units(text), actor="cli")
    print(f"{count} users imported")
    return 0


def _balances_to_minor_units(text: str) -> str:
    """The CSV says balances in currency units; the store takes minor units."""
    import csv
    import io

    from accounting.errors import CsvImportError
    from accounting.money import parse_amount

    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "balance" not in [h.strip().lower() for h in rows[0]]:
        return text
    column = [h.strip().lower() for h in rows[0]].index("balance")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for number, row in enumerate(rows[1:], start=2):
        if column < len(row) and row[column].strip():
            try:
                row[column] = str(parse_amount(row[column]))
            except ValueError as exc:
                raise CsvImportError(number, f"balance: {exc}") from None
        writer.writerow(row)
    return out.getvalue()


@reports_errors
def list_users(args) -> int:
    from accounting.money import format_amount

    core = open_core(args)
    users = core.users.list_users(group=args.group)
    if args.json:
        print(json.dumps([{**u.__dict__} for u in users], indent=2))
        return 0
    print(f"{'USERNAME':<20} {'NAME':<24} {'COST CENTER':<12} {'BALANCE':>10} {'PIN':<3} {'CARDS':>5}  GROUPS")
    for u in users:
        balance = "" if u.balance is None else format_amount(u.balance)
        print(f"{u.username[:20]:<20} {u.full_name[:24]:<24} {u.cost_center[:12]:<12} {balance:>10} "
              f"{'yes' if u.has_pin else 'no':<3} {len(u.cards):>5}  {','.join(u.groups)}")
    return 0


@reports_errors
def set_pin(args) -> int:
    core = open_core(args)
    core.users.get_user(args.username)  # fail on an unknown user before asking for a PIN
    if args.stdin:
        pin = sys.stdin.readline().strip()
    else:
        pin = getpass.getpass("PIN: ")
        if getpass.getpass("PIN again: ") != pin:
            print("printgate: the PINs differ", file=sys.stderr)
            return 1
    core.users.set_pin(args.username, pin, actor="cli")
    print(f"PIN set for {args.username}")
    return 0


@reports_errors
def add_card(args) -> int:
    core = open_core(args)
    core.users.add_card(args.username, args.card, actor="cli")
    print(f"card added to {args.username}")
    return 0


@reports_errors
def user_notices(args) -> int:
    from accounting.notices import NOTICES
    from spooler.config import load_config

    core = open_core(args)
    for notice in args.off:
        core.notices.set_preference(args.username, notice, False, actor="cli")
    for notice in args.on:
        core.notices.set_preference(args.username, notice, True, actor="cli")
    chosen = core.notices.preferences(args.username)
    defaults = load_config(args.config, args.data_dir).notices.enabled
    for notice in NOTICES:
        state = "on" if chosen.get(notice, defaults.get(notice, True)) else "off"
        print(f"{notice:<18} {state}{'' if notice in chosen else ' (default)'}")
    return 0
