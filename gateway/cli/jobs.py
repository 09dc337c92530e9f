"""``printgate jobs list|show|delete``: held jobs, read from the same data directory the
server uses (safe while it runs: SQLite WAL readers never block the server)."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import argparse
import json

from gateway.cli.accounts import NoDataDirectory, database_url, gateway_config, open_listing, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("jobs", help="list, show and delete jobs")
    commands = parser.add_subparsers(dest="jobs_command", required=True)
    listing = commands.add_parser("list", help="held jobs (or those in another state)")
    listing.add_argument("--user", default=None)
    states = listing.add_mutually_exclusive_group()
    states.add_argument("--all", action="store_true", help="jobs in every state, not only held ones")
    states.add_argument("--state", action="append", type=_state, metavar="STATE",
                        help="jobs in this state (repeat for several): held, releasing, released, charge-pending "
                             "(printed, charge to be taken), canceled, aborted, expired, deleted, refused (refused "
                             "at intake: rule and message in --json, policy record in `jobs show`)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_jobs)
    show = commands.add_parser("show", help="one job with its history")
    show.add_argument("job_id", type=int)
    show.set_defaults(handler=show_job)
    delete = commands.add_parser("delete", help="delete a held job and its spool file")
    delete.add_argument("job_id", type=int)
    delete.set_defaults(handler=delete_job)


def _state(text: str) -> str:
    from accounting.schema import JOB_STATES

    state = text.strip().lower().replace("-", "_")
    if state not in JOB_STATES:
        raise argparse.ArgumentTypeError(f"no job state {text!r}")
    return state


def _open(args):
    from accounting.database import Database, migrate
    from accounting.jobs import JobStore

    config = gateway_config(args)
    if not config.database_url and not (config.data_dir / "printgate.sqlite3").is_file():
        raise NoDataDirectory(config)
    database = Database(database_url(config))
    migrate(database.writer)
    return config, JobStore(database)


def _forced(changes: dict) -> str:
    forced = [name for name in ("mono", "duplex") if changes.get(name)]
    if changes.get("copies"):
        forced.append(f"copies≤{changes['copies']}")
    return ",".join(forced) or "-"


def _copies(job) -> str:
    """Copies asked (by the client, and those the document holds itself), and what will
    be printed when a rule caps them."""
    in_document = max(1, job.copies or 1)
    asked = max(1, job.copies_requested or 1)
    cap = (job.decision_changes or {}).get("copies")
    printed = in_document * (min(asked, cap) if cap else asked)
    asked_all = in_document * asked
    return str(asked_all) if printed == asked_all else f"{asked_all}→{printed}"


def _colour(job) -> str:
    from accounting.colour_modes import MONO_MODES

    if (job.decision_changes or {}).get("mono") or (job.color_mode or "").lower() in MONO_MODES:
        return "mono"
    return "?" if job.color_pages is None else str(job.color_pages)


@reports_errors
def list_jobs(args) -> int:
    from accounting.job_titles import display_title
    from accounting.listings import list_jobs as listed_jobs, queue_currencies
    from accounting.money import format_amount
    from accounting.time import zone

    config, reader = open_listing(args)
    jobs = listed_jobs(reader, owner=args.user, states=None if args.all else tuple(args.state or ("held",)))
    if args.json:
        print(json.dumps([job.to_json() for job in jobs], indent=2))
        return 0
    currencies = queue_currencies(reader)
    tz = zone(config.timezone)
    print(f"{'ID':>6}  {'OWNER':<16} {'STATE':<14} {'PROTO':<5} {'PAGES':>5} {'COPIES':>6} {'COLOR':>5} "
          f"{'PRICE':>12} {'FORCED':<18} {'RECEIVED':<16} TITLE")
    for job in jobs:
        pages = "?" if job.pages is None else str(job.pages)
        amount = job.charged_amount if job.charged_amount is not None else job.price_estimate
        price = "?" if amount is None else format_amount(amount, currencies.get(job.queue) or "")
        received = job.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        print(f"{job.id:>6}  {job.owner[:16]:<16} {job.state.replace('_', '-'):<14} {job.protocol:<5} {pages:>5} "
              f"{_copies(job):>6} {_colour(job):>5} {price:>12} {_forced(job.decision_changes or {}):<18} "
              f"{received:<16} {display_title(job)}")
    return 0


@reports_errors
def show_job(args) -> int:
    _, store = _open(args)
    job = store.get_job(args.job_id)
    data = job.to_json()
    data["policy_record"] = store.policy_record(job.decision_id)
    data["history"] = [
        {"at": e.at.isoformat(), "from": e.old_state, "to": e.new_state, "actor": e.actor, "reason": e.reason}
        for e in store.job_events(job.id)
    ]
    print(json.dumps(data, indent=2))
    return 0


@reports_errors
def delete_job(args) -> int:
    from gateway.end_job import end_job_now
    from spooler.spool import SpoolStore

    config, store = _open(args)
    spool = SpoolStore.open(config.data_dir, key_file=config.spool_key_file, max_job_size=config.max_job_size)
    job = end_job_now(store, spool, args.job_id, "deleted", actor="cli", reason="deleted with printgate jobs delete")
    print(f"job {job.id} deleted")
    return 0
