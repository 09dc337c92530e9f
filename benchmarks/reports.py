"""Finance reports at scale, beside the physical floor (run by hand).

Builds a database of ``--ledger-rows`` ledger rows and ``--jobs`` finished jobs for
``--users`` people in ``--cost-centers`` cost centers, all in November 2026, then times
``printgate report`` (a separate process, as a person runs it) for the chargeback by cost
center and the full job log, to CSV, XLSX and PDF, and reports wall time and peak RSS.
Beside each, the peer: ``sqlite3 -csv`` running the same SQL (the statement our code
sends, with its parameters inlined) into a file — and for PostgreSQL, ``psql``'s
``\\copy (query) TO file CSV``.

    .venv/bin/python -m benchmarks.reports                       # the issue's scale, SQLite
    .venv/bin/python -m benchmarks.reports --postgres            # and PostgreSQL beside it
    .venv/bin/python -m benchmarks.reports --ledger-rows 1000000 --jobs 300000 --users 10000
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
SECONDS = 30 * 24 * 3600
FROM, TO = "2026-11-01", "2026-12-01"


def stamp(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")


def build_sqlite(path: Path, *, ledger_rows: int, jobs: int, users: int, cost_centers: int, seed: int = 7) -> None:
    from accounting.database import Database, migrate

    database = Database(f"sqlite:///{path}")
    migrate(database.writer)
    database.dispose()
    rnd = random.Random(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    now = stamp(0)
    db.execute("INSERT INTO queues (id, name, description, created_at) VALUES (1, 'secure', '', ?)", (now,))
    db.execute("INSERT INTO price_lists (id, name, currency, job_fee, sheet_fee, duplex_discount_permille,"
               " unknown_pages, is_default, created_at) VALUES (1, 'standard', 'EUR', 0, 0, 0, 1, 1, ?)", (now,))
    db.executemany("INSERT INTO users (id, username, full_name, email, enabled, source, created_at, cost_center)"
                   " VALUES (?, ?, '', '', 1, 'local', ?, ?)",
                   ((i, f"user{i:06}", now, f"CC-{i % cost_centers:03}") for i in range(1, users + 1)))
    db.executemany("INSERT INTO accounts (id, name, kind, user_id, balance, reserved, overdraft_limit, restricted,"
                   " enabled, created_at, cost_center) VALUES (?, ?, 'personal', ?, 0, 0, 0, 0, 1, ?, '')",
                   ((i, f"user{i:06}", i, now) for i in range(1, users + 1)))
    devices = [f"mfp-{i:02}" for i in range(50)]
    titles = ["report.pdf", "invoice-2026.pdf", "=HYPERLINK(\"x\")", "slides.pptx", "thesis final.pdf"]

    def job_rows():
        for job_id in range(1, jobs + 1):
            user = rnd.randint(1, users)
            pages = rnd.randint(1, 40)
            color = rnd.random() < 0.2
            duplex = rnd.random() < 0.4
            at = stamp(job_id * SECONDS / (jobs + 1))
            price = pages * (50 if color else 10)
            yield (job_id, 1, f"user{user:06}", user, f"ws{user % 3000}", "lpd", "", titles[job_id % 5],
                   "application/pdf", 1000 * pages, "0" * 64, None, "released", "", at, at, 1, "", "", "{}", "pdf",
                   pages, 1, pages, (pages + 1) // 2 if duplex else pages, int(duplex), pages if color else 0,
                   0 if color else pages, "scan", '{"media":["A4"]}', price, user, price, devices[job_id % 50])

    db.executemany(
        "INSERT INTO jobs (id, queue_id, owner, user_id, source_host, protocol, client_job_ref, title, document_format,"
        " size, sha256, spool_name, state, state_reason, received_at, updated_at, copies_requested, sides,"
        " color_mode, attributes, pdl, pages, copies, impressions, sheets, duplex, color_pages, mono_pages,"
        " analyzer_method, facts, price_estimate, account_id, charged_amount, release_device)"
        " VALUES (" + ", ".join("?" * 34) + ")", job_rows())
    kinds = ["charge"] * 70 + ["refund"] * 5 + ["adjustment"] * 5 + ["topup"] * 15 + ["quota-grant"] * 5

    def ledger():
        for entry_id in range(1, ledger_rows + 1):
            kind = kinds[entry_id % 100]
            user = rnd.randint(1, users)
            at = stamp(entry_id * SECONDS / (ledger_rows + 1))
            if kind in ("charge", "refund", "adjustment"):
                pages = rnd.randint(1, 40) if kind == "charge" else None
                color = pages is not None and rnd.random() < 0.2
                amount = -pages * (50 if color else 10) if kind == "charge" else rnd.randint(-200, 200) or 1
                yield (entry_id, user, kind, amount, 0, (entry_id % jobs) + 1 if kind == "charge" else None, "bench",
                       "", at, f"CC-{user % cost_centers:03}", f"user{user:06}", f"g{user % 40}",
                       devices[entry_id % 50], "secure", "standard", pages, 1 if pages else None, pages,
                       pages, pages if color else 0 if pages else None, 0 if color else pages,
                       None if pages is None else int(entry_id % 5 < 2))
            else:
                yield (entry_id, user, kind, 500, 0, None, "bench", "", at, None, None, None, None, None, None, None,
                       None, None, None, None, None, None)

    db.executemany(
        "INSERT INTO ledger_entries (id, account_id, kind, amount, balance_after, job_id, actor, reason, created_at,"
        " cost_center, username, group_name, device, queue, price_list, pages, copies, impressions, sheets,"
        " color_impressions, mono_impressions, duplex) VALUES (" + ", ".join("?" * 22) + ")", ledger())
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()


def peer_sql(url: str, report: str) -> str:
    """The statement our code sends for ``report``, parameters inlined, for the peer."""
    from sqlalchemy.dialects import postgresql, sqlite

    from accounting.core import AccountingCore
    from accounting.database import Database

    database = Database(url)
    core = AccountingCore(database)
    period = core.reports.period(FROM, TO)
    captured = []
    from sqlalchemy import event

    def grab(conn, cursor, statement, parameters, context, executemany):
        captured.append(context.compiled)

    event.listen(database.reader, "before_cursor_execute", grab)
    if report == "chargeback":
        next(iter(core.reports.chargeback(period, ("cost-center",))), None)
    else:
        next(iter(core.reports._ended_jobs(period)), None)
    database.dispose()
    dialect = sqlite.dialect() if url.startswith("sqlite") else postgresql.dialect()
    return str(captured[-1].statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def measure(command, *, env=None, stdout=None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MB, CPU seconds) of ``command`` run to its end. On a
    shared machine CPU seconds (user + system) are the fairer comparison. The peak RSS
    is the program's own (``VmHWM``, polled; it starts again at exec), not the fork's
    copy of this process that ``ru_maxrss`` would count."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE,
                               cwd=ROOT)
    peak_kb = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        try:
            with open(f"/proc/{process.pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, peak_kb / 1024, usage.ru_utime + usage.ru_stime


def printgate(data_dir: Path, config: Path | None, *args) -> list[str]:
    base = [sys.executable, "-m", "gateway", "--data-dir", str(data_dir)]
    return base + (["--config", str(config)] if config else []) + list(args)


def run_suite(label: str, data_dir: Path, config: Path | None, url: str, out: Path, formats, peer,
              skip=()) -> list[tuple]:
    rows = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for report, extra in (("chargeback", ["--by", "cost-center"]), ("jobs", [])):
        sql = peer_sql(url, report)
        target = out / f"peer-{label}-{report}.csv"
        floor = peer(sql, target)
        rows.append((label, report, "peer", *floor, floor[0], floor[2]))
        for fmt in formats:
            if f"{report}:{fmt}" in skip:
                continue
            path = out / f"{label}-{report}.{fmt}"
            wall, rss, cpu = measure(printgate(data_dir, config, "report", report, "--from", FROM, "--to", TO,
                                               *extra, "--format", fmt, "--output", str(path)), env=env)
            rows.append((label, report, fmt, wall, rss, cpu, floor[0], floor[2]))
            print(f"  {label} {report:<10} {fmt:<5} {wall:8.1f} s  {cpu:8.1f} s CPU  {rss:7.0f} MB  "
                  f"({path.stat().st_size / 1e6:.1f} MB)", flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledger-rows", type=int, default=10_000_000)
    parser.add_argument("--jobs", type=int, default=3_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--cost-centers", type=int, default=500)
    parser.add_argument("--formats", default="csv,xlsx,pdf")
    parser.add_argument("--postgres", action="store_true", help="also load PostgreSQL and run the same reports")
    parser.add_argument("--keep", default=None, help="keep the data in this directory (reused when present)")
    parser.add_argument("--skip", default="", help="report:format pairs to leave out, e.g. jobs:pdf")
    args = parser.parse_args(argv)
    formats = args.formats.split(",")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="printgate-bench-reports-"))
    data_dir = work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    out = work / "out"
    out.mkdir(exist_ok=True)
    database = data_dir / "printgate.sqlite3"
    config = work / "printgate.toml"
    config.write_text('[server]\ntimezone = "UTC"\n')
    if not database.exists():
        started = time.perf_counter()
        build_sqlite(database, ledger_rows=args.ledger_rows, jobs=args.jobs, users=args.users,
                     cost_centers=args.cost_centers)
        print(f"built {args.ledger_rows:,} ledger rows and {args.jobs:,} jobs in {time.perf_counter() - started:.0f} s "
              f"({database.stat().st_size / 1e9:.1f} GB)", flush=True)
    sqlite_bin = shutil.which("sqlite3")
    if sqlite_bin is None:
        raise SystemExit("sqlite3 is missing: apt-get install sqlite3")

    def sqlite_peer(sql, target):
        with open(target, "wb") as handle:
            return measure([sqlite_bin, "-csv", "-header", str(database), sql + ";"], stdout=handle)

    skip = set(filter(None, args.skip.split(",")))
    rows = run_suite("sqlite", data_dir, config, f"sqlite:///{database}", out, formats, sqlite_peer, skip)
    server = None
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from tests.fixtures.postgres import PostgresServer

        server = PostgresServer(durable=False).start()
        try:
            url = server.create_database("bench")
            from accounting.database import Database, migrate

            pg = Database(url)
            migrate(pg.writer)
            pg.dispose()
            started = time.perf_counter()
            copy_to_postgres(database, server, "bench")
            print(f"loaded PostgreSQL in {time.perf_counter() - started:.0f} s", flush=True)
            pg_config = work / "printgate-pg.toml"
            pg_config.write_text(f'[server]\ntimezone = "UTC"\ndatabase_url = "{url}"\n')
            psql = str(server.bin_dir / "psql")

            def pg_peer(sql, target):
                return measure([psql, "-h", "127.0.0.1", "-p", str(server.port), "-U", server.user, "-d", "bench",
                                "-q", "-c", f"\\copy ({sql}) TO '{target}' CSV HEADER"])

            rows += run_suite("postgresql", data_dir, pg_config, url, out, formats, pg_peer, skip)
        finally:
            server.stop()
    print()
    print(f"{args.ledger_rows:,} ledger rows, {args.jobs:,} jobs, {args.users:,} users, {args.cost_centers} cost "
          f"centers; {os.cpu_count()} cores")
    print(f"{'engine':<11} {'report':<11} {'writer':<7} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} "
          f"{'wall × peer':>12} {'CPU × peer':>11}")
    for label, report, fmt, wall, rss, cpu, floor_wall, floor_cpu in rows:
        print(f"{label:<11} {report:<11} {fmt:<7} {wall:8.1f} {cpu:8.1f} {rss:12.0f} {wall / floor_wall:12.2f} "
              f"{cpu / max(floor_cpu, 0.01):11.2f}")
    (work / "results.json").write_text(json.dumps(rows, default=str, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def copy_to_postgres(sqlite_path: Path, server, dbname: str) -> None:
    """Copy the benchmark's tables from SQLite into PostgreSQL with COPY."""
    import psycopg

    source = sqlite3.connect(sqlite_path)
    with psycopg.connect(f"host=127.0.0.1 port={server.port} user={server.user} dbname={dbname}") as target:
        target.execute("ALTER TABLE ledger_entries DISABLE TRIGGER USER")
        for table in ("queues", "price_lists", "users", "accounts", "jobs", "ledger_entries"):
            columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
            booleans = {row["column_name"] for row in target.cursor(row_factory=psycopg.rows.dict_row).execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND data_type = 'boolean'",
                (table,))}
            stamps = {row[0] for row in target.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND data_type LIKE "
                "'timestamp%%'", (table,))}
            with target.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in source.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                    copy.write_row([None if v is None else bool(v) if c in booleans else v + "+00" if c in stamps
                                    else v for c, v in zip(columns, row)])
        target.execute("ALTER TABLE ledger_entries ENABLE TRIGGER USER")
        target.commit()
        target.autocommit = True
        target.execute("ANALYZE")
    source.close()


if __name__ == "__main__":
    sys.exit(main())
