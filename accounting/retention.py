"""Time: held jobs expire; history is purged after the retention period.

Accounting never touches the spool: ``expire_jobs`` only changes states (a small job's
bytes, kept in the database, go with that change) and returns the expired jobs so the
application's "end a job" (``gateway.end_job``) deletes their spool files. Retention never touches the ledger:
money records are kept for good (ledger rows carry the job id, not a foreign key).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import InvalidStateChange
from accounting.jobs import JobStore, change_state_in
from accounting.records import HeldJob
from accounting.retention_period import DEFAULT_RETENTION_DAYS, check_retention_days
from accounting.schema import access_log, audit_log, job_events, jobs, login_throttles, policy_records, queues
from accounting.time import utcnow

DEFAULT_EXPIRE_MINUTES = 4 * 60
EXPIRING_STATES = ("held", "aborted")
FINAL_STATES = ("released", "canceled", "expired", "deleted", "refused")


class Retention:
    def __init__(self, database: Database, *, job_store: JobStore, expire_minutes: int = DEFAULT_EXPIRE_MINUTES,
                 retention_days: int = DEFAULT_RETENTION_DAYS):
        self.db = database
        self.jobs = job_store
        self.expire_minutes = expire_minutes
        self.retention_days = check_retention_days(retention_days)

    def expired_candidates(self, now: datetime) -> list[int]:
        # Per-queue lifetime, else the default. Compared in Python so the same code runs
        # on both engines (interval arithmetic differs); the candidate set is bounded by
        # the shortest lifetime any queue has.
        with self.db.reader.connect() as conn:
            lifetimes = dict(conn.execute(select(queues.c.id, queues.c.expire_minutes)).all())
            shortest = min([m for m in lifetimes.values() if m] + [self.expire_minutes])
            rows = conn.execute(select(jobs.c.id, jobs.c.queue_id, jobs.c.received_at).where(
                jobs.c.state.in_(EXPIRING_STATES), jobs.c.received_at < now - timedelta(minutes=shortest))).all()
        due = []
        for job_id, queue_id, received_at in rows:
            minutes = lifetimes.get(queue_id) or self.expire_minutes
            if received_at.tzinfo is None:
                received_at = received_at.replace(tzinfo=now.tzinfo)
            if received_at + timedelta(minutes=minutes) <= now:
                due.append(job_id)
        return due

    def expire_jobs(self, now: datetime | None = None, *, actor: str = "expiry") -> list[HeldJob]:
        """Expire held jobs past their queue's lifetime; returns them so the spooler can
        delete their spool files. A job released meanwhile is skipped."""
        now = now or utcnow()
        expired = []
        for job_id in self.expired_candidates(now):
            try:
                with self.db.writer.begin() as conn:
                    change_state_in(conn, job_id, "expired", actor=actor, reason="hold time exceeded",
                                    expect=EXPIRING_STATES)
            except InvalidStateChange:
                continue
            expired.append(self.jobs.get_job(job_id))
        return expired

    def purge_retention(self, now: datetime | None = None, *, days: int | None = None, actor: str = "retention",
                        batch: int = 5_000) -> dict:
        """Delete finished jobs (with their history), policy records, audit entries and
        stale login counters older than the retention period. Returns counts per table.
        Works in batches of ``batch`` rows, one short transaction each, so intake never
        waits long behind a purge of months of history."""
        now = now or utcnow()
        cutoff = now - timedelta(days=check_retention_days(days or self.retention_days))
        counts = {"jobs": 0, "job_events": 0, "policy_records": 0, "audit_log": 0, "login_throttles": 0,
                  "access_log": 0}
        while True:
            with self.db.writer.begin() as conn:
                ids = list(conn.execute(select(jobs.c.id).where(
                    jobs.c.state.in_(FINAL_STATES), jobs.c.updated_at < cutoff).limit(batch)).scalars())
                if not ids:
                    break
                counts["job_events"] += conn.execute(delete(job_events).where(job_events.c.job_id.in_(ids))).rowcount
                counts["jobs"] += conn.execute(delete(jobs).where(jobs.c.id.in_(ids))).rowcount
        for name, table, column in (("policy_records", policy_records, policy_records.c.at),
                                    ("audit_log", audit_log, audit_log.c.at),
                                    ("access_log", access_log, access_log.c.at),
                                    ("login_throttles", login_throttles, login_throttles.c.updated_at)):
            while True:
                with self.db.writer.begin() as conn:
                    ids = list(conn.execute(select(table.c.id).where(column < cutoff).limit(batch)).scalars())
                    if not ids:
                        break
                    counts[name] += conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount
        with self.db.writer.begin() as conn:
            audit(conn, actor=actor, action="retention.purge", target=f"before {cutoff:%Y-%m-%d}", new=counts, at=now)
        return counts
