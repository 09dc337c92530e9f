"""``printgate report chargeback|jobs|policy|usage --from DATE --to DATE [--by ...]
--format csv|xlsx|pdf|json [--output FILE]`` and ``printgate report why-price JOB``.

Dates are local days in the configured zone (``[server] timezone``); ``--to`` is the first
day not included. Without ``--output`` the report goes to standard output. A file is
written under a temporary name and renamed when complete; on any failure the command
exits non-zero and leaves no file. On a terminal a progress bar (tqdm) shows on standard
error; piped or redirected, the command is silent."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import json
import sys

from gateway.cli.accounts import open_core, reports_errors

REPORTS = ("chargeback", "jobs", "policy", "usage")


def register(subparsers) -> None:
    parser = subparsers.add_parser("report", help="finance reports: chargeback, job log, policy, usage, why-price")
    commands = parser.add_subparsers(dest="report_command", required=True)
    for name, text in (("chargeback", "money and pages grouped by cost center, account, user, group, device, queue "
                                      "or price list (one or two levels)"),
                       ("jobs", "the job log: every job that ended, and every job refused, in the period"),
                       ("policy", "every refused or changed job's policy record"),
                       ("usage", "usage by device and day, week or month")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--from", dest="start", required=True, metavar="DATE", help="first day (YYYY-MM-DD)")
        command.add_argument("--to", dest="end", required=True, metavar="DATE",
                             help="first day NOT included (YYYY-MM-DD)")
        if name == "chargeback":
            command.add_argument("--by", default="cost-center",
                                 help="cost-center, account, user, group, device, queue or price-list; two levels as "
                                      "e.g. cost-center,user (default: cost-center)")
        if name == "usage":
            command.add_argument("--bucket", choices=("day", "week", "month"), default="day")
        command.add_argument("--format", choices=("csv", "xlsx", "pdf", "json"), default="csv")
        command.add_argument("--output", "-o", default=None, help="file to write (default: standard output)")
        command.add_argument("--bom", action="store_true", help="CSV: start with a UTF-8 byte order mark (Excel)")
        command.set_defaults(handler=run_report, report=name)
    why = commands.add_parser("why-price", help="why a job cost what it did: price list, line items, rules")
    why.add_argument("job", type=int)
    why.add_argument("--json", action="store_true")
    why.set_defaults(handler=why_price)


class _Progress:
    """A tqdm bar on standard error when it is a terminal; nothing otherwise."""

    def __init__(self, total, stream=None):
        stream = stream or sys.stderr
        self.bar = None
        if stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=" rows", unit_scale=True, file=stream, leave=False)
        self.done = 0

    def __call__(self, done: int) -> None:
        if self.bar is not None and done > self.done:
            self.bar.update(done - self.done)
            self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@reports_errors
def run_report(args) -> int:
    from accounting.reports import parse_grouping
    from gateway.reports.produce import write_report_file, write_report_stream
    from gateway.reports.tables import build_table

    by = parse_grouping(args.by) if args.report == "chargeback" else ("cost-center",)
    core = open_core(args)
    period = core.reports.period(args.start, args.end)
    table = build_table(core.reports, args.report, period, by=by, bucket=getattr(args, "bucket", "day"))
    progress = _Progress(table.count() if sys.stderr.isatty() else None)
    try:
        if args.output:
            path = write_report_file(table, args.format, args.output, bom=args.bom, progress=progress)
            progress.close()
            print(f"{table.title}, {period.label()}: written to {path}", file=sys.stderr)
        else:
            write_report_stream(table, args.format, sys.stdout.buffer, bom=args.bom, progress=progress)
    finally:
        progress.close()
    return 0


@reports_errors
def why_price(args) -> int:
    from accounting.money import format_amount

    core = open_core(args)
    explained = core.reports.explain_price(args.job)
    if args.json:
        data = {**explained.__dict__, "lines": [line.__dict__ for line in explained.lines],
                "rules": [{**rule.__dict__, "at": rule.at.isoformat() if rule.at else None}
                          for rule in explained.rules]}
        print(json.dumps(data, indent=2))
        return 0
    money = lambda milli: f"{milli / 100_000:.5f}".rstrip("0").rstrip(".")  # noqa: E731
    print(f"Job {explained.job_id} \"{explained.title}\" of {explained.owner} ({explained.state})")
    print(f"  device {explained.device or '-'}, queue {explained.queue}, price list {explained.price_list} "
          f"({explained.currency})")
    for line in explained.lines:
        print(f"  {line.item:<28} {line.quantity:>7} x {money(line.unit_milli):>9} = {money(line.amount_milli):>10}")
    print(f"  {'exact total':<28} {'':>19} = {money(explained.total_milli):>10}")
    print(f"  {'price':<28} {'':>19} = {format_amount(explained.price, explained.currency):>10}")
    if explained.charged is not None:
        print(f"  {'charged':<28} {'':>19} = {format_amount(explained.charged, explained.currency):>10}")
    for rule in explained.rules:
        changes = ", ".join(f"{k}={v}" for k, v in sorted(rule.changes.items())) or "no change"
        print(f"  rule {rule.rule} ({rule.action}): {changes}" + (f" - {rule.message}" if rule.message else ""))
    for note in explained.notes:
        print(f"  note: {note}")
    return 0
