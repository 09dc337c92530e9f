"""``printgate accounts list|topup|adjust|add-shared|allow``: personal and shared
accounts and their money. Amounts are typed in currency units ("12.50"), converted
exactly to minor units.

The small helpers the other accounting command groups share (opening the database,
turning accounting errors into one clear line) live here too."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import functools
import json
import sys

from printgate_errors import PrintgateError


class NoDataDirectory(PrintgateError):
    """A command that only reads found no database: it says where it looked and why
    there, and creates nothing."""

    def __init__(self, config):
        super().__init__(
            f"no Printgate database in {config.data_dir.resolve()} (the data directory from "
            f"{config.data_dir_source}); nothing was created there. Give --data-dir, set "
            "PRINTGATE_DATA_DIR, or set [server] data_dir in the --config file")
        self.data_dir = config.data_dir


def gateway_config(args):
    """The configuration the command runs with (``--config``, ``--data-dir``, the
    environment; see ``spooler.config.load_config``)."""
    from spooler.config import load_config

    return load_config(args.config, args.data_dir)


def database_url(config) -> str:
    return config.database_url or f"sqlite:///{config.data_dir.resolve() / 'printgate.sqlite3'}"


def open_core(args, *, create: bool = True):
    """The accounting components for the data directory (or database URL) in ``args``.
    ``create=False`` for commands that only read: no database is created then."""
    from accounting.core import AccountingSettings, open_core as open_accounting
    from accounting.private_files import private_directory

    config = gateway_config(args)
    if not config.database_url:
        if create:
            private_directory(config.data_dir)
        elif not (config.data_dir / "printgate.sqlite3").is_file():
            raise NoDataDirectory(config)
    core = open_accounting(database_url(config), data_dir=config.data_dir,
                           settings=AccountingSettings(timezone=config.timezone,
                                                       retention_days=config.retention_days))
    _opened.append(core.database.dispose)
    return core


def open_listing(args):
    """``(config, reader)`` for a quick read-only listing (``accounting.listings``):
    the database opened with its driver alone, after migrating it if the gateway has not
    done so yet. Creates nothing."""
    from accounting.listings import NoDatabase, Reader, schema_is_current

    config = gateway_config(args)
    try:
        reader = Reader.open(database_url(config))
    except NoDatabase:
        raise NoDataDirectory(config) from None
    if not schema_is_current(reader):
        reader.close()
        open_core(args, create=False)
        reader = Reader.open(database_url(config))
    _opened.append(reader.close)
    return config, reader


#: How to close the databases the running command opened (see reports_errors).
_opened: list = []


def reports_errors(handler):
    """Print our errors, bad input and system errors as one ``printgate: ...`` line;
    exit status 1 (a closed pipe is left to ``main``). Closes the databases the command
    opened."""

    @functools.wraps(handler)
    def run(args):
        try:
            return handler(args)
        except BrokenPipeError:
            raise
        except (PrintgateError, ValueError, OSError) as exc:
            print(f"printgate: {exc}", file=sys.stderr)
            return 1
        finally:
            while _opened:
                _opened.pop()()

    return run


def register(subparsers) -> None:
    parser = subparsers.add_parser("accounts", help="accounts, balances, top-ups and adjustments")
    commands = parser.add_subparsers(dest="accounts_command", required=True)
    listing = commands.add_parser("list", help="accounts with balance, reservations and limits")
    listing.add_argument("--kind", choices=("personal", "shared"), default=None)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_accounts)
    topup = commands.add_parser("topup", help="add money to an account")
    topup.add_argument("account")
    topup.add_argument("amount", help="in currency units, e.g. 10.00")
    topup.add_argument("--reason", default="top-up")
    topup.set_defaults(handler=topup_account)
    adjust = commands.add_parser("adjust", help="correct a balance up or down (reason required)")
    adjust.add_argument("account")
    adjust.add_argument("amount", help="signed, in currency units, e.g. -2.50")
    adjust.add_argument("--reason", required=True)
    adjust.set_defaults(handler=adjust_account)
    shared = commands.add_parser("add-shared", help="create a shared account (cost center, client code)")
    shared.add_argument("name")
    shared.add_argument("--parent", default=None)
    shared.add_argument("--restricted", action="store_true", help="may not go below zero (plus overdraft)")
    shared.add_argument("--overdraft", default="0")
    shared.add_argument("--pin", default=None)
    shared.add_argument("--cost-center", default="", help="where chargeback reports put its charges (default: its name)")
    shared.set_defaults(handler=add_shared)
    allow = commands.add_parser("allow", help="let a user or group charge a shared account")
    allow.add_argument("account")
    who = allow.add_mutually_exclusive_group(required=True)
    who.add_argument("--user")
    who.add_argument("--group")
    allow.set_defaults(handler=allow_account)
    threshold = commands.add_parser("threshold", help="below this balance the owner is told it is low")
    threshold.add_argument("account")
    threshold.add_argument("amount", help="in currency units, or 'default' for [notices] low_balance_threshold")
    threshold.set_defaults(handler=set_threshold)


def _row(account) -> dict:
    return {"id": account.id, "name": account.name, "kind": account.kind, "balance": account.balance,
            "reserved": account.reserved, "overdraft_limit": account.overdraft_limit,
            "restricted": account.restricted, "enabled": account.enabled}


@reports_errors
def list_accounts(args) -> int:
    from accounting.money import format_amount

    core = open_core(args, create=False)
    accounts = core.accounts.list(kind=args.kind)
    if args.json:
        print(json.dumps([_row(a) for a in accounts], indent=2))
        return 0
    print(f"{'ACCOUNT':<24} {'KIND':<9} {'BALANCE':>12} {'RESERVED':>10} {'OVERDRAFT':>10} RESTRICTED")
    for a in accounts:
        print(f"{a.name[:24]:<24} {a.kind:<9} {format_amount(a.balance):>12} {format_amount(a.reserved):>10} "
              f"{format_amount(a.overdraft_limit):>10} {'yes' if a.restricted else 'no'}")
    return 0


@reports_errors
def topup_account(args) -> int:
    from accounting.money import format_amount, parse_amount

    core = open_core(args)
    entry = core.ledger.topup(args.account, parse_amount(args.amount), actor="cli", reason=args.reason)
    print(f"{args.account}: +{format_amount(entry.amount)}, balance {format_amount(entry.balance_after)}")
    return 0


@reports_errors
def adjust_account(args) -> int:
    from accounting.money import format_amount, parse_amount

    core = open_core(args)
    entry = core.ledger.adjust(args.account, parse_amount(args.amount), actor="cli", reason=args.reason)
    print(f"{args.account}: {format_amount(entry.amount)}, balance {format_amount(entry.balance_after)}")
    return 0


@reports_errors
def add_shared(args) -> int:
    from accounting.money import parse_amount

    core = open_core(args)
    account = core.accounts.create_shared(args.name, parent=args.parent, restricted=args.restricted,
                                          overdraft_limit=parse_amount(args.overdraft), pin=args.pin,
                                          cost_center=args.cost_center, actor="cli")
    print(f"shared account {account.name} created")
    return 0


@reports_errors
def allow_account(args) -> int:
    core = open_core(args)
    core.accounts.allow(args.account, user=args.user, group=args.group, actor="cli")
    print(f"{args.user or 'group ' + args.group} may charge {args.account}")
    return 0


@reports_errors
def set_threshold(args) -> int:
    from accounting.money import parse_amount

    core = open_core(args)
    amount = None if args.amount == "default" else parse_amount(args.amount)
    core.notices.set_low_balance_threshold(args.account, amount, actor="cli")
    print(f"{args.account}: low-balance threshold {'default' if amount is None else args.amount}")
    return 0
