"""How fast the admin's read commands answer: ``printgate users list`` and ``printgate
jobs list`` on a database of 1,000 users (with groups, cards and held jobs), beside the
``sqlite3`` shell running the same queries on the same file. Goal (issue 14.10): a read
command answers in 0.3 s or less.

Run by hand (not part of the test suite)::

    python3 benchmarks/cli.py                     # 1,000 users, 1,000 held jobs, 21 runs each
    python3 benchmarks/cli.py --users 10000 --jobs 5000 --runs 11

Each command runs as its own process, as an admin runs it (bytecode cached, as ``pip
install`` leaves it; one warm-up run first), output to /dev/null; the table
shows the median and the worst wall time and the median CPU time (user + system, from
the children's rusage), with the ratio to ``sqlite3``. ``python -c pass`` is the floor
every Python command pays. The machine may be shared: CPU time is the column that does
not depend on what else runs; the last line prints the load average.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 0.3

# What `printgate users list` and `printgate jobs list` ask the database
# (accounting.listings.list_users / list_jobs + queue_currencies), for sqlite3.
USERS_SQL = """
SELECT u.id, u.username, u.full_name, u.email, u.cost_center, u.enabled, u.source, u.pin_hash IS NOT NULL, a.id,
       a.balance, u.deleted_at IS NOT NULL FROM users u LEFT JOIN accounts a ON a.user_id = u.id ORDER BY u.username;
SELECT ug.user_id, g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id ORDER BY g.name;
SELECT user_id, number FROM cards ORDER BY id;
"""
JOBS_SQL = """
SELECT j.*, q.name AS queue_name FROM jobs j JOIN queues q ON q.id = j.queue_id WHERE j.state IN ('held') ORDER BY j.id;
SELECT currency FROM price_lists WHERE is_default = 1 ORDER BY id;
SELECT q.name, p.currency FROM queues q LEFT JOIN price_lists p ON p.id = q.price_list_id;
"""


def populate(data_dir: Path, n_users: int, n_jobs: int) -> None:
    from accounting.core import AccountingSettings, open_core
    from accounting.private_files import private_directory
    from accounting.pricing import PriceList
    from accounting.records import NewJob
    from accounting.rules import Rule

    private_directory(data_dir)
    core = open_core(f"sqlite:///{data_dir / 'printgate.sqlite3'}", data_dir=data_dir,
                     settings=AccountingSettings(timezone="UTC"))
    try:
        rows = "\n".join(f"user{i:05d},User {i},u{i}@example.org,cc{i % 20},g{i % 7};all,C{i:08X},{(i % 50) * 100}"
                         for i in range(n_users))
        core.users.import_csv("username,full_name,email,cost_center,groups,cards,balance\n" + rows + "\n")
        core.prices.save(PriceList(name="std", currency="EUR", items={("*", False): 5_000, ("*", True): 20_000},
                                   is_default=True))
        core.rules.add(Rule(name="long-duplex", action="force-duplex", conditions={"pages": {"min": 10}}))
        now = datetime.now(timezone.utc)
        batch = []
        for i in range(n_jobs):
            owner = f"user{i % n_users:05d}"
            facts = {"pdl": "pdf", "pages": 1 + i % 20, "copies": 1, "impressions": 1 + i % 20, "sheets": 1 + i % 20,
                     "duplex": False, "color_pages": i % 3, "mono_pages": 1 + i % 20 - i % 3, "media": ["A4"]}
            job = NewJob(queue="secure", owner=owner, source_host="10.0.0.8", protocol="ipp", size=10_000 + i,
                         sha256="0" * 64, spool_name=f"bench{i:08d}", received_at=now - timedelta(seconds=i),
                         title=f"Report {i}.pdf", copies_requested=1 + i % 3, facts=facts)
            job.decision = core.decide(job)
            batch.append(job)
            if len(batch) == 500:
                core.jobs.record_jobs(batch)
                batch = []
        if batch:
            core.jobs.record_jobs(batch)
    finally:
        core.database.dispose()


def measure(argv: list[str], runs: int, env: dict, stdin: str | None = None) -> dict:
    subprocess.run(argv, input=stdin, text=True, stdout=subprocess.DEVNULL, check=True, env=env)  # warm up
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, input=stdin, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True,
                       env=env)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {"wall": statistics.median(walls), "worst": max(walls), "cpu": statistics.median(cpus)}


def printgate_command() -> list[str]:
    """The installed ``printgate`` beside this Python (a venv's bin/), else ``-m gateway``."""
    beside = Path(sys.executable).with_name("printgate")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "gateway"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--keep", action="store_true", help="keep the temp data directory")
    args = parser.parse_args()
    sqlite3 = shutil.which("sqlite3")
    if not sqlite3:
        print("sqlite3 not found: apt-get install sqlite3", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="printgate-bench-cli-"))
    data = work / "data"
    try:
        started = time.perf_counter()
        populate(data, args.users, args.jobs)
        print(f"database: {args.users} users, {args.jobs} held jobs, made in {time.perf_counter() - started:.1f} s; "
              f"{args.runs} runs per command")
        # As installed: bytecode cached (pip compiles it at install), whatever this shell says.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PRINTGATE_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = str(ROOT)
        database = str(data / "printgate.sqlite3")
        printgate = printgate_command() + ["--data-dir", str(data)]
        rows = [
            ("python -c pass (floor)", measure([sys.executable, "-c", "pass"], args.runs, env), None),
            ("printgate users list", measure(printgate + ["users", "list"], args.runs, env), "users"),
            ("sqlite3, same queries", measure([sqlite3, database], args.runs, env, USERS_SQL), "users-peer"),
            ("printgate users list --json", measure(printgate + ["users", "list", "--json"], args.runs, env),
             "users"),
            ("printgate jobs list", measure(printgate + ["jobs", "list"], args.runs, env), "jobs"),
            ("sqlite3, same queries", measure([sqlite3, database], args.runs, env, JOBS_SQL), "jobs-peer"),
            ("printgate jobs list --json", measure(printgate + ["jobs", "list", "--json"], args.runs, env), "jobs"),
        ]
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    peers = {kind.split("-")[0]: result for _, result, kind in rows if kind and kind.endswith("-peer")}
    print(f"{'command':<30} {'wall p50 s':>10} {'wall max s':>10} {'CPU p50 s':>10} {'× sqlite3 (wall)':>17} "
          f"{'× sqlite3 (CPU)':>16} {'goal ≤ 0.3 s':>13}")
    for name, result, kind in rows:
        peer = peers.get((kind or "").split("-")[0]) if kind and not kind.endswith("-peer") else None
        wall_ratio = f"{result['wall'] / peer['wall']:.1f}" if peer else ""
        cpu_ratio = f"{result['cpu'] / max(peer['cpu'], 1e-3):.1f}" if peer else ""
        goal = ("met" if result["wall"] <= GOAL_SECONDS else "MISSED") if kind and not kind.endswith("-peer") else ""
        print(f"{name:<30} {result['wall']:>10.3f} {result['worst']:>10.3f} {result['cpu']:>10.3f} {wall_ratio:>17} "
              f"{cpu_ratio:>16} {goal:>13}")
    load = os.getloadavg()
    print(f"printgate: {' '.join(printgate_command())}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} cores")
    if load[0] > (os.cpu_count() or 1):
        print("The machine is busy: wall times include waiting for a CPU, which sqlite3 (a few ms) mostly "
              "escapes; CPU time is what a command costs, and on an idle machine its wall time is close to it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
