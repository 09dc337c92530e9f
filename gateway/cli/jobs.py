"""``printgate jobs list|show|delete``: held jobs, read from the same data directory the
server uses (safe while it runs: SQLite WAL readers never block the server)."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import argparse
import json
import sys


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
    from accounting.database import Database, migrate, sqlite_url
    from accounting.jobs import JobStore
    from spooler.config import load_config

    config = load_config(args.config, args.data_dir)
    if not config.data_dir.exists():
        print(f"printgate: no data directory at {config.data_dir}", file=sys.stderr)
        raise SystemExit(2)
    database = Database(config.database_url or sqlite_url(config.data_dir))
    migrate(database.writer)
    return config, JobStore(database)


def list_jobs(args) -> int:
    _, store = _open(args)
    jobs = store.list_jobs(owner=args.user, states=None if args.all else tuple(args.state or ("held",)))
    if args.json:
        print(json.dumps([job.to_json() for job in jobs], indent=2))
        return 0
    print(f"{'ID':>6}  {'OWNER':<16} {'STATE':<14} {'PROTO':<5} {'SIZE':>10} {'PAGES':>5} {'COPIES':>6} "
          f"{'COLOR':>5}  {'RECEIVED':<20} TITLE")
    for job in jobs:
        pages = "?" if job.pages is None else str(job.pages)
        copies = job.copies if job.copies is not None else job.copies_requested
        color = "?" if job.color_pages is None else str(job.color_pages)
        received = job.received_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{job.id:>6}  {job.owner[:16]:<16} {job.state.replace('_', '-'):<14} {job.protocol:<5} {job.size:>10} {pages:>5} "
              f"{copies:>6} {color:>5}  {received:<20} {job.title}")
    return 0


def show_job(args) -> int:
    from accounting.errors import JobNotFound

    _, store = _open(args)
    try:
        job = store.get_job(args.job_id)
    except JobNotFound as exc:
        print(f"printgate: {exc}", file=sys.stderr)
        return 1
    data = job.to_json()
    data["policy_record"] = store.policy_record(job.decision_id)
    data["history"] = [
        {"at": e.at.isoformat(), "from": e.old_state, "to": e.new_state, "actor": e.actor, "reason": e.reason}
        for e in store.job_events(job.id)
    ]
    print(json.dumps(data, indent=2))
    return 0


def delete_job(args) -> int:
    from accounting.errors import AccountingError
    from gateway.end_job import end_job_now
    from spooler.spool import SpoolStore

    config, store = _open(args)
    spool = SpoolStore.open(config.data_dir, key_file=config.spool_key_file, max_job_size=config.max_job_size)
    try:
        job = end_job_now(store, spool, args.job_id, "deleted", actor="cli", reason="deleted with printgate jobs delete")
    except AccountingError as exc:
        print(f"printgate: {exc}", file=sys.stderr)
        return 1
    print(f"job {job.id} deleted")
    return 0
