"""Accounting under load: decisions per second at intake and charges per second at
release, on SQLite and PostgreSQL, with 100,000 users and 1,000,000 jobs in the database.

Run by hand (not part of the test suite)::

    python3 benchmarks/accounting.py                       # both engines, full size
    python3 benchmarks/accounting.py --engines sqlite --users 10000 --jobs 100000

SQLite runs as the gateway runs it (WAL, ``synchronous=FULL``). PostgreSQL is a
throwaway server on loopback started like the test fixture but with fsync and
synchronous commit on (``--pg-fast`` turns them off), so both engines pay for durable
commits. A decision is ``AccountingCore.decide`` for a random existing user with ten
rules in place (a few per cent of the jobs are changed or refused, which writes a policy
record); a release is ``start_release`` + ``charge_release`` of a held job (two
write transactions). Latencies are per call, single caller; "x8" rows run eight
concurrent callers.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select  # noqa: E402

from accounting.core import AccountingCore, AccountingSettings  # noqa: E402
from accounting.database import Database, migrate  # noqa: E402
from accounting.passwords import SecretHasher, fast_hasher  # noqa: E402
from accounting.pricing import PriceList  # noqa: E402
from accounting.records import NewJob  # noqa: E402
from accounting.rules import Rule  # noqa: E402
from accounting.schema import accounts, groups, jobs, ledger_entries, queues, user_groups, users  # noqa: E402

GOAL_DECISION_P99_MS = 2.0
CHUNK = 10_000
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)

RULES = [
    Rule("night-deny", "deny", {"hours": "23:00-05:00"}),
    Rule("huge", "deny", {"pages": {"min": 500}}, {"message": "Jobs over 500 pages are not allowed."}),
    Rule("students-no-a3-color", "deny", {"groups": ["students"], "media": ["A3"], "color": True}),
    Rule("duplex-long", "force-duplex", {"pages": {"min": 20}, "duplex": False}),
    Rule("mono-email", "force-mono", {"document": "*.eml"}),
    Rule("cap-copies", "cap-copies", {"copies": {"min": 11}}, {"copies": 10}),
    Rule("confirm-expensive", "hold-confirm", {"cost": {"min": 2000}}),
    Rule("notify-lab", "notify", {"source_hosts": ["lab-*"]}, {"to": "owner"}),
    Rule("exec-allow", "allow", {"groups": ["executives"]}),
    Rule("spreadsheets-duplex", "force-duplex", {"document": "*.xlsx"}),
]


def populate(database: Database, n_users: int, n_jobs: int) -> None:
    rng = random.Random(1)
    now = NOW
    with database.writer.begin() as conn:
        conn.execute(insert(queues).values(name="secure", description="", created_at=now))
        queue_id = conn.execute(select(queues.c.id)).scalar()
        conn.execute(insert(groups), [{"name": g, "description": "", "created_at": now}
                                      for g in ("staff", "students", "executives", "lab")])
        group_ids = dict(conn.execute(select(groups.c.name, groups.c.id)).all())
    for start in range(0, n_users, CHUNK):
        ids = range(start + 1, min(n_users, start + CHUNK) + 1)
        with database.writer.begin() as conn:
            conn.execute(insert(users), [{"id": i, "username": f"user{i:06d}", "full_name": f"User {i}",
                                          "email": f"user{i}@example.org", "enabled": True, "source": "local",
                                          "cost_center": f"CC{i % 100}", "created_at": now} for i in ids])
            conn.execute(insert(accounts), [{"id": i, "name": f"user{i:06d}", "kind": "personal", "user_id": i,
                                             "balance": 5000, "reserved": 0, "overdraft_limit": 0,
                                             "restricted": True, "enabled": True, "created_at": now} for i in ids])
            conn.execute(insert(ledger_entries), [{"account_id": i, "kind": "topup", "amount": 5000,
                                                   "balance_after": 5000, "actor": "bench", "reason": "opening",
                                                   "created_at": now} for i in ids])
            conn.execute(insert(user_groups), [{"user_id": i, "group_id": group_ids[
                "students" if i % 3 else "staff"]} for i in ids])
    states = ["released"] * 90 + ["expired"] * 5 + ["canceled"] * 4 + ["held"]
    for start in range(0, n_jobs, CHUNK):
        rows = []
        for i in range(start, min(n_jobs, start + CHUNK)):
            pages = rng.randint(1, 40)
            at = now - timedelta(minutes=(n_jobs - i) // 10)
            rows.append({
                "queue_id": queue_id, "owner": f"user{rng.randint(1, n_users):06d}", "source_host": "ws1",
                "protocol": "lpd", "client_job_ref": "", "title": "doc.pdf", "document_format": "application/pdf",
                "size": 10_000, "sha256": "0" * 64, "spool_name": None, "state": rng.choice(states),
                "state_reason": "", "received_at": at, "updated_at": at, "copies_requested": 1, "sides": "",
                "color_mode": "", "attributes": "{}", "pdl": "pdf", "pages": pages, "copies": 1,
                "impressions": pages, "sheets": pages, "duplex": False, "color_pages": 0, "mono_pages": pages,
                "analyzer_method": "scan", "price_estimate": pages * 5, "decision_action": "allow",
            })
        with database.writer.begin() as conn:
            conn.execute(insert(jobs), rows)
    if not database.is_sqlite:
        with database.writer.begin() as conn:
            for table in ("users", "accounts", "jobs", "ledger_entries", "user_groups"):
                conn.exec_driver_sql(f"ANALYZE {table}")
            conn.exec_driver_sql(f"SELECT setval('users_id_seq', {n_users})")
            conn.exec_driver_sql(f"SELECT setval('accounts_id_seq', {n_users})")
    else:
        with database.writer.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def sample_job(rng: random.Random, n_users: int) -> NewJob:
    pages = rng.choice([1, 1, 2, 3, 5, 8, 12, 25, 60])
    color = rng.random() < 0.2
    facts = {"pdl": "pdf", "pages": pages, "copies": 1, "impressions": pages, "sheets": pages, "duplex": False,
             "color_pages": pages if color else 0, "mono_pages": 0 if color else pages,
             "media": ["A3" if rng.random() < 0.05 else "A4"], "method": "scan"}
    return NewJob(queue="secure", owner=f"user{rng.randint(1, n_users):06d}",
                  source_host="lab-3" if rng.random() < 0.05 else "ws1", protocol="ipp", size=50_000,
                  sha256="0" * 64, spool_name=f"s{rng.random()}", received_at=NOW,
                  title=rng.choice(["report.pdf", "sheet.xlsx", "mail.eml", "slides.pptx"]),
                  copies_requested=rng.choice([1, 1, 1, 2, 12]), facts=facts)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(function, items, threads=1):
    latencies = []
    lock = threading.Lock()
    chunks = [items[i::threads] for i in range(threads)]

    def worker(chunk):
        local = []
        for item in chunk:
            started = time.perf_counter()
            function(item)
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    return len(items) / elapsed, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000


def run_engine(name: str, url: str, args) -> list[tuple]:
    database = Database(url, pool_size=16)
    migrate(database.writer)
    started = time.perf_counter()
    populate(database, args.users, args.jobs)
    print(f"[{name}] populated {args.users:,} users and {args.jobs:,} jobs in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    core = AccountingCore(database, AccountingSettings(server_name="bench", rule_cache_seconds=3600),
                          hasher=SecretHasher(fast_hasher()))
    core.prices.save(PriceList(name="std", is_default=True, items={("*", False): 5_000, ("*", True): 20_000,
                                                                   ("A3", False): 10_000, ("A3", True): 40_000}))
    for rule in RULES:
        core.rules.add(rule)
    rng = random.Random(2)
    rows = []
    warm = [sample_job(rng, args.users) for _ in range(200)]
    measure(core.decide, warm)
    decisions = [sample_job(rng, args.users) for _ in range(args.decisions)]
    rows.append((name, "decide (intake)", 1, *measure(core.decide, decisions)))
    decisions = [sample_job(rng, args.users) for _ in range(args.decisions)]
    rows.append((name, "decide (intake)", 8, *measure(core.decide, decisions, threads=8)))

    def release(job):
        core.start_release(job.id, "mfp-1", job.owner)
        core.charge_release(job.id, "mfp-1", f"rel-{job.id}", job.owner)

    for threads in (1, 8):
        batch = []
        for _ in range(args.releases):
            job = sample_job(rng, args.users)
            job.facts["pages"] = job.facts["impressions"] = job.facts["sheets"] = 2
            job.facts["color_pages"] = 0
            job.copies_requested = 1
            batch.append(job)
        held = []
        for i in range(0, len(batch), 256):
            held.extend(core.jobs.record_jobs(batch[i:i + 256]))
        rows.append((name, "start+charge (release)", threads, *measure(release, held, threads=threads)))
    unbalanced = core.ledger.unbalanced_accounts()
    if unbalanced:
        print(f"[{name}] UNBALANCED ACCOUNTS: {unbalanced[:5]}", file=sys.stderr)
    database.dispose()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--decisions", type=int, default=5_000)
    parser.add_argument("--releases", type=int, default=1_000)
    parser.add_argument("--pg-fast", action="store_true", help="PostgreSQL without fsync (like the tests)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="printgate-bench-") as directory:
        for engine in args.engines.split(","):
            if engine == "sqlite":
                rows += run_engine("SQLite", f"sqlite:///{Path(directory) / 'bench.sqlite3'}", args)
            elif engine == "postgresql":
                from tests.fixtures.postgres import PostgresServer

                server = PostgresServer(durable=not args.pg_fast).start()
                try:
                    rows += run_engine("PostgreSQL", server.create_database("bench"), args)
                finally:
                    server.stop()
            else:
                parser.error(f"unknown engine {engine}")
    print(f"\n{args.users:,} users, {args.jobs:,} jobs in the database")
    print(f"{'engine':<11} {'operation':<24} {'callers':>7} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8}  goal")
    for engine, operation, threads, rate, p50, p99 in rows:
        goal = ""
        if operation.startswith("decide") and engine == "SQLite" and threads == 1:
            goal = f"p99 ≤ {GOAL_DECISION_P99_MS} ms: {'met' if p99 <= GOAL_DECISION_P99_MS else 'MISSED'} " \
                   f"({p99 / GOAL_DECISION_P99_MS:.2f}× of goal)"
        print(f"{engine:<11} {operation:<24} {threads:>7} {rate:>9,.0f} {p50:>8.2f} {p99:>8.2f}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
