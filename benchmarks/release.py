"""Release at the printer under a full database: card login → job list, and release →
first byte at the printer, through the real HTTPS panel, on SQLite and PostgreSQL.

Run by hand (not part of the test suite)::

    python3 benchmarks/release.py                          # both engines, full size
    python3 benchmarks/release.py --engines sqlite --users 10000 --jobs 100000

The database holds ``--users`` users (each with a card and a personal account) and
``--jobs`` held jobs spread over them (about ten each), written with bulk inserts. The
gateway side is what ``printgate serve`` runs: ``listen_release_api`` over TLS with the
accounting-backed ``GatewayPanelServices`` and a ``Forwarder``, on a reactor in its own
thread with the reactor's thread pool for database work. The panel side is one keep-alive
HTTPS connection that signs every request as a registered device (HMAC), like a printer's
panel agent.

- **login → list**: ``POST /panel/card`` (LoginGuard: lookup, lockout counters, audit row)
  then ``GET /panel/jobs`` (device check, held jobs of the user priced for the device,
  balance, render) — from sending the card to having the job list page.
- **release → first byte**: ``POST /panel/jobs action=release`` for one held job whose
  spool file exists, until the first byte of the document arrives at a RAW printer on
  loopback (start_release reserves, the forwarder connects and streams). The rest of the
  release (charge, result page) is timed too, as "release → result page".
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import random
import re
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, update  # noqa: E402

from accounting.core import AccountingCore, AccountingSettings  # noqa: E402
from accounting.database import Database, migrate  # noqa: E402
from accounting.passwords import SecretHasher, fast_hasher  # noqa: E402
from accounting.pricing import PriceList  # noqa: E402
from accounting.schema import accounts, cards, jobs, ledger_entries, queues, users  # noqa: E402
from accounting.service import AccountingService  # noqa: E402
from release_api.device_auth import DeviceRequestSigner  # noqa: E402
from gateway.end_job import JobEnding  # noqa: E402
from gateway.panel_services import GatewayPanelServices  # noqa: E402
from gateway.register_device import register_device  # noqa: E402
from gateway.release_job import JobRelease  # noqa: E402
from gateway.release_journal import ReleaseJournal  # noqa: E402
from release_api.server import listen_release_api  # noqa: E402
from spooler.forward import Forwarder, RetryPolicy  # noqa: E402
from spooler.spool import SpoolStore  # noqa: E402

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
CHUNK = 10_000
GOAL_LIST_P99_MS = 50
GOAL_FIRST_BYTE_P99_MS = 200
DOCUMENT = b"%!PS-Adobe-3.0\n%%Pages: 1\n" + b"% padding to a realistic size\n" * 4000 + b"showpage\n%%EOF\n"


def card_of(i: int) -> str:
    return f"C{i:09d}"


def populate(database: Database, n_users: int, n_jobs: int) -> None:
    rng = random.Random(6)
    with database.writer.begin() as conn:
        conn.execute(insert(queues).values(name="secure", description="", created_at=NOW))
        queue_id = conn.execute(select(queues.c.id)).scalar()
    for start in range(0, n_users, CHUNK):
        ids = range(start + 1, min(n_users, start + CHUNK) + 1)
        with database.writer.begin() as conn:
            conn.execute(insert(users), [{"id": i, "username": f"user{i:06d}", "full_name": f"User {i}",
                                          "email": f"user{i}@example.org", "enabled": True, "source": "local",
                                          "cost_center": f"CC{i % 100}", "created_at": NOW} for i in ids])
            conn.execute(insert(accounts), [{"id": i, "name": f"user{i:06d}", "kind": "personal", "user_id": i,
                                             "balance": 100_000, "reserved": 0, "overdraft_limit": 0,
                                             "restricted": True, "enabled": True, "created_at": NOW} for i in ids])
            conn.execute(insert(ledger_entries), [{"account_id": i, "kind": "topup", "amount": 100_000,
                                                   "balance_after": 100_000, "actor": "bench", "reason": "opening",
                                                   "created_at": NOW} for i in ids])
            conn.execute(insert(cards), [{"user_id": i, "number": card_of(i), "created_at": NOW} for i in ids])
    for start in range(0, n_jobs, CHUNK):
        rows = []
        for i in range(start, min(n_jobs, start + CHUNK)):
            pages = rng.randint(1, 40)
            color = rng.random() < 0.2
            facts = {"pdl": "pdf", "pages": pages, "copies": 1, "impressions": pages, "sheets": pages,
                     "duplex": False, "color_pages": pages if color else 0, "mono_pages": 0 if color else pages,
                     "media": ["A4"], "method": "scan"}
            at = NOW - timedelta(seconds=(n_jobs - i))
            rows.append({
                "queue_id": queue_id, "owner": f"user{rng.randint(1, n_users):06d}", "source_host": "ws1",
                "protocol": "lpd", "client_job_ref": "", "title": f"document {i}.pdf",
                "document_format": "application/pdf", "size": len(DOCUMENT), "sha256": "0" * 64, "spool_name": None,
                "state": "held", "state_reason": "", "received_at": at, "updated_at": at, "copies_requested": 1,
                "sides": "", "color_mode": "", "attributes": "{}", "pdl": "pdf", "pages": pages, "copies": 1,
                "impressions": pages, "sheets": pages, "duplex": False, "color_pages": facts["color_pages"],
                "mono_pages": facts["mono_pages"], "analyzer_method": "scan", "facts": json.dumps(facts),
                "price_estimate": pages * 5, "decision_action": "allow",
            })
        with database.writer.begin() as conn:
            conn.execute(insert(jobs), rows)
    with database.writer.begin() as conn:
        if database.is_sqlite:
            conn.exec_driver_sql("ANALYZE")
        else:
            for table in ("users", "accounts", "jobs", "ledger_entries", "cards"):
                conn.exec_driver_sql(f"ANALYZE {table}")
            for table in ("users", "accounts"):
                conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', {n_users})")


class FirstByteSink:
    """A RAW printer on loopback: notes when the first byte of each job arrives, reads to
    the end, closes (which is how the RAW sender knows the job was taken)."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.first_bytes: list[float] = []
        self.arrived = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            first = True
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                if first:
                    with self.arrived:
                        self.first_bytes.append(time.perf_counter())
                        self.arrived.notify_all()
                    first = False


class PanelConnection:
    """One keep-alive HTTPS connection signing each request as the device."""

    def __init__(self, port: int, signer: DeviceRequestSigner):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
        self.signer = signer
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        body = urlencode(form, doseq=True).encode() if form is not None else b""
        headers = {"Authorization": self.signer.authorization(method, path, body)}
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, text

    def csrf(self, html: str) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p99 * 1000


def run_engine(label: str, url: str, args, directory: Path) -> list[tuple]:
    from tests.fixtures.browser import ReactorThread

    database = Database(url, pool_size=16)
    migrate(database.writer)
    started = time.perf_counter()
    populate(database, args.users, args.jobs)
    print(f"{label}: {args.users:,} users and {args.jobs:,} held jobs written in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    core = AccountingCore(database, AccountingSettings(secrets_key_file=directory / f"{label}.key"),
                          hasher=SecretHasher(fast_hasher()))
    core.prices.save(PriceList(name="standard", items={("*", False): 5_000, ("*", True): 20_000}, is_default=True))
    sink = FirstByteSink()
    secret = register_device(core, "bench-mfp", color=True, duplex=True, protocol="raw",
                             endpoint=f"127.0.0.1:{sink.port}", actor="benchmark").secret
    spool = SpoolStore.open(directory / f"{label}-spool", max_job_size=1 << 30)
    thread = ReactorThread()
    reactor = thread.reactor
    reactor.getThreadPool().adjustPoolsize(4, 8)
    accounting = AccountingService(database, reactor=reactor, threadpool=reactor.getThreadPool(), core=core)
    forwarder = Forwarder(reactor, retry=RetryPolicy(max_attempts=2, initial_delay=0.1))
    releases = JobRelease(accounting, spool, forwarder, ReleaseJournal(directory / f"{label}-release-journal"),
                          reactor=reactor)
    services = GatewayPanelServices(accounting, releases, JobEnding(accounting, spool), reactor=reactor)
    listeners = thread.call(lambda: listen_release_api(reactor, services, data_dir=directory / f"{label}-tls",
                                                       https_port=0, interface="127.0.0.1",
                                                       hostnames=["127.0.0.1"]))
    port = listeners.https_port.getHost().port
    rng = random.Random(7)
    rows = []
    try:
        panel = PanelConnection(port, DeviceRequestSigner("bench-mfp", secret))
        login_list = []
        for n in range(args.logins + 10):
            user = rng.randint(1, args.users)
            panel.cookies.clear()
            status, html = panel.request("GET", "/panel/")
            assert status == 200, html[:300]
            token = panel.csrf(html)
            t0 = time.perf_counter()
            status, html = panel.request("POST", "/panel/card", {"csrf": token, "card_number": card_of(user)})
            assert status == 303, (status, html[:300])
            status, html = panel.request("GET", "/panel/jobs")
            elapsed = time.perf_counter() - t0
            assert status == 200 and 'class="job' in html or "No jobs" in html, html[:300]
            if n >= 10:  # warm-up
                login_list.append(elapsed)
        rows.append((label, "card login → job list", len(login_list), *percentiles(login_list)))

        first_byte, whole = [], []
        for n in range(args.releases + 5):
            user = rng.randint(1, args.users)
            username = f"user{user:06d}"
            with database.reader.connect() as conn:
                job_id = conn.execute(select(jobs.c.id).where(jobs.c.owner == username, jobs.c.state == "held")
                                      .limit(1)).scalar()
            if job_id is None:
                continue
            writer = spool.create()
            writer.write(DOCUMENT)
            writer.finish()
            writer.make_durable()
            with database.writer.begin() as conn:
                conn.execute(update(jobs).where(jobs.c.id == job_id).values(
                    spool_name=writer.name, sha256=hashlib.sha256(DOCUMENT).hexdigest()))
            panel.cookies.clear()
            status, html = panel.request("GET", "/panel/")
            panel.request("POST", "/panel/card", {"csrf": panel.csrf(html), "card_number": card_of(user)})
            status, html = panel.request("GET", "/panel/jobs")
            before = len(sink.first_bytes)
            t0 = time.perf_counter()
            status, html = panel.request("POST", "/panel/jobs", {"csrf": panel.csrf(html), "action": "release",
                                                                  "job": str(job_id)})
            done = time.perf_counter()
            assert status == 303, (status, html[:300])
            with sink.arrived:
                sink.arrived.wait_for(lambda: len(sink.first_bytes) > before, timeout=10)
            if n >= 5:
                first_byte.append(sink.first_bytes[before] - t0)
                whole.append(done - t0)
        rows.append((label, "release → first byte", len(first_byte), *percentiles(first_byte)))
        rows.append((label, "release → result page", len(whole), *percentiles(whole)))
        charged = core.ledger.entries_for_job(job_id)
        assert len(charged) == 1, charged
    finally:
        thread.call(listeners.https_port.stopListening)
        thread.stop()
        sink.server.close()
        database.dispose()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--logins", type=int, default=500)
    parser.add_argument("--releases", type=int, default=200)
    parser.add_argument("--pg-fast", action="store_true", help="PostgreSQL without fsync (like the tests)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="printgate-release-bench-") as name:
        directory = Path(name)
        for engine in args.engines.split(","):
            if engine == "sqlite":
                rows += run_engine("SQLite", f"sqlite:///{directory / 'bench.sqlite3'}", args, directory)
            elif engine == "postgresql":
                from tests.fixtures.postgres import PostgresServer

                server = PostgresServer(durable=not args.pg_fast).start()
                try:
                    rows += run_engine("PostgreSQL", server.create_database("bench"), args, directory)
                finally:
                    server.stop()
            else:
                parser.error(f"unknown engine {engine}")
    print(f"\n{args.users:,} users, {args.jobs:,} held jobs; HTTPS panel with HMAC device auth, one keep-alive "
          "connection")
    print(f"{'engine':<11} {'measure':<24} {'samples':>7} {'p50 ms':>8} {'p99 ms':>8}  goal")
    for engine, measure, count, p50, p99 in rows:
        goal = ""
        if engine == "SQLite" and measure == "card login → job list":
            goal = f"p99 ≤ {GOAL_LIST_P99_MS} ms: {'met' if p99 <= GOAL_LIST_P99_MS else 'MISSED'}"
        if engine == "SQLite" and measure == "release → first byte":
            goal = f"p99 ≤ {GOAL_FIRST_BYTE_P99_MS} ms: {'met' if p99 <= GOAL_FIRST_BYTE_P99_MS else 'MISSED'}"
        print(f"{engine:<11} {measure:<24} {count:>7} {p50:>8.2f} {p99:>8.2f}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
