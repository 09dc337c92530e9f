"""``printgate users add|import|list|set-pin|set-password|add-card|remove-card|enable|
disable|delete``: people who print.

PINs and passwords are read from standard input when it is not a terminal (``--pin-stdin``
/ ``--password-stdin`` say so explicitly, for scripts), else asked for twice without echo;
they never appear on a command line. ``delete`` keeps the person's history: jobs, ledger
and audit still name them.

``users import FILE.csv`` takes a header row naming any of ``username, full_name,
email, cost_center, groups, cards, pin, balance`` (``groups`` and ``cards`` separated
by ";", ``balance`` in currency units). A malformed row stops the import with its line
number and nothing of the file is kept."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import json

from gateway.cli.accounts import open_core, open_listing, reports_errors
from gateway.cli.prompts import read_secret_input


def register(subparsers) -> None:
    parser = subparsers.add_parser("users", help="users: add, import, list, disable, delete; PINs, passwords, cards")
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
    listing = commands.add_parser("list", help="users with their PIN-pad number, groups, cards and balance")
    listing.add_argument("--group", default=None)
    listing.add_argument("--all", action="store_true", help="deleted users too")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_users)
    pin = commands.add_parser("set-pin", help="set a user's PIN (4 to 12 digits; asked for, or read from stdin)")
    pin.add_argument("username")
    pin.add_argument("--pin-stdin", "--stdin", dest="stdin", action="store_true",
                     help="read the PIN from standard input (one line), for scripts")
    pin.set_defaults(handler=set_pin)
    password = commands.add_parser("set-password", help="set a user's password (panel login, card linking, ipps://)")
    password.add_argument("username")
    password.add_argument("--password-stdin", dest="stdin", action="store_true",
                          help="read the password from standard input (one line), for scripts")
    password.set_defaults(handler=set_password)
    card = commands.add_parser("add-card", help="register a card number to a user")
    card.add_argument("username")
    card.add_argument("card")
    card.set_defaults(handler=add_card)
    uncard = commands.add_parser("remove-card", help="unregister a card (lost, or handed back)")
    uncard.add_argument("card")
    uncard.set_defaults(handler=remove_card)
    for verb, text in (("grant", "give a user a role: admin (everything) or finance (money, reports, audit)"),
                       ("revoke", "take a role away (their web sessions end at once)")):
        role = commands.add_parser(verb, help=text)
        role.add_argument("username")
        role.add_argument("role", choices=("admin", "finance"))
        role.set_defaults(handler=change_role)
    totp = commands.add_parser("reset-second-factor",
                               help="forget a user's TOTP enrolment (lost phone): they enrol again at the next login")
    totp.add_argument("username")
    totp.set_defaults(handler=reset_second_factor)
    for verb, (text, _, _) in USER_CHANGES.items():
        sub = commands.add_parser(verb, help=text)
        sub.add_argument("username")
        sub.set_defaults(handler=change_user)
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
    """``NUMBER`` is what a person types on the PIN pad before their PIN."""
    from accounting.listings import list_users as listed_users
    from accounting.money import format_amount

    _, reader = open_listing(args)
    users = [u for u in listed_users(reader, group=args.group) if args.all or not u.deleted]
    if args.json:
        print(json.dumps([{**u.__dict__, "number": u.id} for u in users], indent=2))
        return 0
    print(f"{'NUMBER':>6}  {'USERNAME':<20} {'NAME':<24} {'COST CENTER':<12} {'BALANCE':>10} {'PIN':<3} {'CARDS':>5} "
          f" {'STATE':<8} GROUPS")
    for u in users:
        balance = "" if u.balance is None else format_amount(u.balance)
        state = "deleted" if u.deleted else "enabled" if u.enabled else "disabled"
        print(f"{u.id:>6}  {u.username[:20]:<20} {u.full_name[:24]:<24} {u.cost_center[:12]:<12} {balance:>10} "
              f"{'yes' if u.has_pin else 'no':<3} {len(u.cards):>5}  {state:<8} {','.join(u.groups)}")
    return 0


@reports_errors
def set_pin(args) -> int:
    core = open_core(args)
    core.users.get_user(args.username)  # fail on an unknown user before asking for a PIN
    core.users.set_pin(args.username, read_secret_input("PIN", from_stdin=args.stdin), actor="cli")
    print(f"PIN set for {args.username}")
    return 0


@reports_errors
def set_password(args) -> int:
    core = open_core(args)
    core.users.get_user(args.username)
    core.users.set_password(args.username, read_secret_input("password", from_stdin=args.stdin), actor="cli")
    print(f"password set for {args.username}")
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


@reports_errors
def remove_card(args) -> int:
    owner = open_core(args).users.remove_card(args.card, actor="cli")
    print(f"card removed from {owner}")
    return 0


#: ``users disable|enable|delete``: (help, the change, what is printed after it).
USER_CHANGES = {
    "disable": ("refuse the user's jobs and logins (money and history stay)",
                lambda users, name: users.set_enabled(name, False, actor="cli"),
                "{} disabled: their jobs are refused and they cannot log in"),
    "enable": ("let a disabled user print again", lambda users, name: users.set_enabled(name, True, actor="cli"),
               "{} enabled"),
    "delete": ("remove a person: cards, PIN, password, groups go; jobs, ledger and audit stay",
               lambda users, name: users.delete_user(name, actor="cli"),
               "{} deleted (their jobs, ledger and audit entries are kept)"),
}


@reports_errors
def change_user(args) -> int:
    _, change, done = USER_CHANGES[args.users_command]
    change(open_core(args).users, args.username)
    print(done.format(args.username))
    return 0


@reports_errors
def change_role(args) -> int:
    """The first admin is made here, never on the network: ``printgate users add ana &&
    printgate users set-password ana && printgate users grant ana admin``."""
    roles = open_core(args).roles
    if args.users_command == "grant":
        changed = roles.grant(args.username, args.role, actor="cli")
        print(f"{args.username} is {'now' if changed else 'already'} {args.role}"
              + (" (a second factor is enrolled at their first web login)" if changed else ""))
    else:
        changed = roles.revoke(args.username, args.role, actor="cli")
        print(f"{args.username} {'is no longer' if changed else 'was not'} {args.role}")
    return 0


@reports_errors
def reset_second_factor(args) -> int:
    open_core(args).second_factors.reset(args.username, actor="cli")
    print(f"{args.username}'s second factor is forgotten: they enrol again at their next web login")
    return 0
