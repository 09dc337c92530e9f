"""``printgate schedule add report|backup|fleet-export NAME ... | list | remove NAME |
run NAME | password URL``: scheduled reports, backups and printer-data exports, run by
the running gateway (``gateway.scheduler``) in the configured time zone and delivered to
directories, SFTP, SMB and mail (``gateway.destinations``)."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import json
import sys

from gateway.cli.accounts import open_core, reports_errors


def _when(parser) -> None:
    parser.add_argument("--every", choices=("daily", "weekly", "monthly"), default=None)
    parser.add_argument("--at", default="06:00", help="local time HH:MM (default 06:00)")
    parser.add_argument("--day", default=None, help="weekly: mon..sun (default mon); monthly: 1..28 (default 1)")
    parser.add_argument("--cron", default=None, help='a cron expression instead, e.g. "30 5 * * 1-5"')
    parser.add_argument("--to", action="append", required=True, metavar="DESTINATION",
                        help="a directory, file:///dir, sftp://user@host[:port]/dir, smb://user@host[:port]/share/dir "
                             "or mailto:addr[,addr]; repeat for several")


def register(subparsers) -> None:
    parser = subparsers.add_parser("schedule", help="scheduled reports, backups and printer-data exports")
    commands = parser.add_subparsers(dest="schedule_command", required=True)
    add = commands.add_parser("add", help="add a scheduled report, backup or printer-data export")
    kinds = add.add_subparsers(dest="kind", required=True)
    report = kinds.add_parser("report", help="a report, e.g. last month's chargeback as PDF, mailed on the 1st")
    report.add_argument("name")
    report.add_argument("--report", choices=("chargeback", "jobs", "policy", "usage"), default="chargeback")
    report.add_argument("--by", default="cost-center", help="chargeback grouping, one or two levels")
    report.add_argument("--bucket", choices=("day", "week", "month"), default="day", help="usage report buckets")
    report.add_argument("--format", choices=("csv", "xlsx", "pdf", "json"), default="pdf")
    report.add_argument("--period", choices=("previous-day", "previous-week", "previous-month"), default=None,
                        help="what each run covers (default: follows --every; previous-month for --cron)")
    report.add_argument("--bom", action="store_true")
    _when(report)
    report.set_defaults(handler=add_schedule)
    backup = kinds.add_parser("backup", help="a database backup (as printgate backup takes it)")
    backup.add_argument("name")
    _when(backup)
    backup.set_defaults(handler=add_schedule)
    export = kinds.add_parser("fleet-export", help="the printer-data export (as devices export writes it); the "
                                                   "running gateway needs [fleet] enabled to run it")
    export.add_argument("name")
    export.add_argument("--format", choices=("json", "xml", "csv"), default="csv")
    export.add_argument("--jitter-minutes", type=float, default=None,
                        help="each run starts after a random delay within this window, so gateways sharing a "
                             "server do not arrive at once (default: [fleet.export] jitter_minutes)")
    _when(export)
    export.set_defaults(handler=add_schedule)
    listing = commands.add_parser("list", help="schedules, their next run and their last run's outcome")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_schedules)
    remove = commands.add_parser("remove", help="remove a schedule")
    remove.add_argument("name")
    remove.set_defaults(handler=remove_schedule)
    run = commands.add_parser("run", help="make a schedule due now (the running gateway runs it within a minute)")
    run.add_argument("name")
    run.set_defaults(handler=run_schedule)
    password = commands.add_parser("password", help="store the password of an SFTP or SMB destination (read from "
                                                    "standard input), encrypted in the database")
    password.add_argument("destination")
    password.set_defaults(handler=set_password)


def _config(args):
    from spooler.config import load_config

    return load_config(args.config, args.data_dir)


def _zone(args):
    from accounting.time import zone

    return zone(_config(args).timezone)


@reports_errors
def add_schedule(args) -> int:
    from accounting.reports import parse_grouping
    from accounting.time import utcnow, zone
    from gateway.destinations import DestinationError, parse_destination
    from gateway.scheduler import ScheduleError, cadence, jittered, next_run

    try:
        expression = cadence(args.every, at=args.at, day=args.day, cron=args.cron)
        destinations = [parse_destination(url).url for url in args.to]
    except (ScheduleError, DestinationError) as exc:
        print(f"printgate: {exc}", file=sys.stderr)
        return 1
    params: dict = {}
    if args.kind == "report":
        period = args.period or {"daily": "previous-day", "weekly": "previous-week"}.get(args.every, "previous-month")
        params = {"report": args.report, "format": args.format, "period": period, "bom": args.bom,
                  "by": list(parse_grouping(args.by)), "bucket": args.bucket}
    config = _config(args)
    if args.kind == "fleet-export":
        jitter = config.fleet.export_jitter_minutes if args.jitter_minutes is None else args.jitter_minutes
        if not 0 <= jitter <= 24 * 60:
            print("printgate: --jitter-minutes is 0 to 1440", file=sys.stderr)
            return 1
        params = {"format": args.format, "jitter_minutes": jitter}
    tz = zone(config.timezone)
    core = open_core(args)
    schedule = core.schedules.add(args.name, kind=args.kind, cadence=expression, params=params,
                                  destinations=destinations, next_run_at=jittered(next_run(expression, utcnow(), tz),
                                                                                  params), actor="cli")
    print(f"schedule {schedule.name}: {args.kind} at \"{expression}\" ({tz.key}), next run "
          f"{schedule.next_run_at.astimezone(tz):%Y-%m-%d %H:%M %Z}, to {', '.join(destinations)}")
    return 0


def _run_json(run):
    if run is None:
        return None
    return {"id": run.id, "due_at": run.due_at.isoformat(), "status": run.status, "attempts": run.attempts,
            "next_attempt_at": run.next_attempt_at.isoformat() if run.next_attempt_at else None,
            "pending": run.pending, "output": run.output, "error": run.error,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None}


@reports_errors
def list_schedules(args) -> int:
    tz = _zone(args)
    core = open_core(args)
    schedules = core.schedules.list()
    if args.json:
        print(json.dumps([{"name": s.name, "kind": s.kind, "cadence": s.cadence, "params": s.params,
                           "destinations": s.destinations, "enabled": s.enabled,
                           "next_run_at": s.next_run_at.isoformat(), "last_run": _run_json(s.last_run)}
                          for s in schedules], indent=2))
        return 0
    print(f"{'NAME':<20} {'KIND':<12} {'CADENCE':<16} {'NEXT RUN':<17} LAST RUN")
    for s in schedules:
        run = s.last_run
        if run is None:
            last = "never"
        else:
            last = f"{run.status} (due {run.due_at.astimezone(tz):%Y-%m-%d %H:%M}, {run.attempts} attempt(s))"
            if run.status == "retrying":
                last += f", next try {run.next_attempt_at.astimezone(tz):%Y-%m-%d %H:%M}"
            if run.error:
                last += f": {run.error}"
        print(f"{s.name[:20]:<20} {s.kind:<12} {s.cadence:<16} {s.next_run_at.astimezone(tz):%Y-%m-%d %H:%M} "
              f"{last}")
        print(f"{'':<20} to {', '.join(s.destinations)}")
    return 0


@reports_errors
def remove_schedule(args) -> int:
    open_core(args).schedules.remove(args.name, actor="cli")
    print(f"schedule {args.name} removed")
    return 0


@reports_errors
def run_schedule(args) -> int:
    open_core(args).schedules.run_now(args.name, actor="cli")
    print(f"schedule {args.name} is due now; the running gateway runs it at its next tick")
    return 0


@reports_errors
def set_password(args) -> int:
    from gateway.destinations import DestinationError, parse_destination

    try:
        destination = parse_destination(args.destination)
    except DestinationError as exc:
        print(f"printgate: {exc}", file=sys.stderr)
        return 1
    if destination.scheme not in ("sftp", "smb"):
        print("printgate: only sftp:// and smb:// destinations have passwords", file=sys.stderr)
        return 1
    password = sys.stdin.readline().rstrip("\n")
    core = open_core(args)
    if core.secrets is None:
        print("printgate: no secrets key file", file=sys.stderr)
        return 1
    core.secrets.set(destination.secret_name, password)
    print(f"password for {destination.user}@{destination.host}:{destination.port} ({destination.scheme}) stored")
    return 0
