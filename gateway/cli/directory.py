"""``printgate directory sync|test|status``: users from LDAP / Active Directory (the
``[directory]`` section of the configuration; the bind password is the secret its
``password_secret`` names: ``printgate secrets set directory/bind``).

``sync`` shows a progress bar (tqdm) when standard error is a terminal and ends with a
summary line (added, changed, disabled, enabled, unchanged, problems); ``--dry-run``
says what a sync would do and changes nothing. ``test USER`` shows what the gateway
would import for one user. Exit status: 0 done, 1 failed (nothing changed)."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import json
import sys

from gateway.cli.accounts import open_core, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("directory", help="sync users, cards and groups from LDAP / Active Directory")
    commands = parser.add_subparsers(dest="directory_command", required=True)
    sync = commands.add_parser("sync", help="sync now (incremental unless --full)")
    sync.add_argument("--full", action="store_true", help="read every entry; disables users gone from the directory")
    sync.add_argument("--dry-run", action="store_true", help="say what would change; change nothing")
    sync.add_argument("--json", action="store_true", help="the summary as JSON")
    sync.set_defaults(handler=run_sync)
    test = commands.add_parser("test", help="show what the gateway would import for one user")
    test.add_argument("username")
    test.set_defaults(handler=test_user)
    status = commands.add_parser("status", help="the last syncs")
    status.set_defaults(handler=show_status)


def open_directory(args):
    from spooler.config import load_config

    config = load_config(args.config, args.data_dir)
    if config.directory is None:
        raise ValueError("no [directory] section in the configuration (see printgate.toml.example)")
    core = open_core(args)
    return core, core.attach_directory(config.directory, staging_dir=config.data_dir)


class _Progress:
    """A tqdm bar per phase on a terminal; nothing otherwise."""

    def __init__(self, stream, *, mininterval: float = 0.1):
        self.stream = stream
        self.mininterval = mininterval
        self.bars = {}
        self.enabled = stream.isatty()

    def __call__(self, kind, count):
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(kind)
        if bar is None:
            bar = self.bars[kind] = tqdm(desc=f"reading {kind}", unit=" entries", file=self.stream, leave=False,
                                         mininterval=self.mininterval)
        bar.update(count - bar.n)

    def close(self):
        for bar in self.bars.values():
            bar.close()


@reports_errors
def run_sync(args) -> int:
    from accounting.directory import SyncFailed

    core, directory = open_directory(args)
    progress = _Progress(sys.stderr)
    try:
        summary = directory.sync.run(full=args.full, dry_run=args.dry_run, progress=progress)
    except SyncFailed as exc:
        progress.close()
        print(f"printgate: {exc}", file=sys.stderr)
        return 1
    progress.close()
    if args.json:
        print(json.dumps(summary.__dict__, indent=2))
        return 0
    print(("Would do (dry run): " if args.dry_run else "") + summary.line().split(": ", 1)[1])
    for problem in summary.problems[:50]:
        print(f"  problem: {problem}")
    if len(summary.problems) > 50:
        print(f"  ... and {len(summary.problems) - 50} more problems")
    return 0


@reports_errors
def test_user(args) -> int:
    core, directory = open_directory(args)
    user, groups, problems = directory.sync.preview(args.username)
    if user is None:
        print(f"printgate: no entry for {args.username!r} under {', '.join(directory.settings.user_bases)}",
              file=sys.stderr)
        for problem in problems:
            print(f"  problem: {problem}", file=sys.stderr)
        return 1
    rows = [("username", user.username), ("dn", user.dn), ("full name", user.full_name), ("email", user.email),
            ("cost center", user.cost_center), ("cards", ", ".join(user.cards) or "-"),
            ("groups", ", ".join(groups) or "-"), ("PIN", "from the directory" if user.pin else "-"),
            ("disabled", "yes" if user.disabled else "no")]
    for name, value in rows:
        print(f"{name + ':':<13}{value}")
    for problem in problems:
        print(f"  problem: {problem}")
    return 0


@reports_errors
def show_status(args) -> int:
    core, directory = open_directory(args)
    rows = directory.sync.history()
    if not rows:
        print("no directory sync yet")
    for r in rows:
        print(f"{r['started_at']:%Y-%m-%d %H:%M:%S} {r['kind']:<11} {r['outcome']:<6} {r['server']} +{r['added']} "
              f"~{r['changed']} -{r['disabled']} ^{r['enabled']} ={r['unchanged']} problems {r['problem_count']}"
              + (f" error: {r['error']}" if r['error'] else ""))
    return 0
