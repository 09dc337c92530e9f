"""Page counters: reads (polls, after releases, and the automated read per billing
period), their plausibility, and the reconciliation of each released job's expected
impressions against what the device's counter shows.

A counter that went backwards, jumped further than the device could have printed since
the last read, or wrapped (a 32-bit counter passing 4,294,967,295) is flagged and never
trusted: it is stored with its flag, never used as a baseline, never a reason to refund.
A shortfall — fewer impressions counted than the job should have made (a jam, a job
cancelled at the device) — is flagged; per configuration it is refunded through the
ledger's own ``refund_shortfall``, in proportion, rounded in the user's favour."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from accounting.database import Database
from accounting.errors import AccountingError
from accounting.fleet.records import Counters, JobMeterCheck, MeterRead
from accounting.schema import fleet_devices, fleet_events, job_meter_checks, jobs, meter_reads
from accounting.time import aware, utcnow

COUNTER32 = 1 << 32
#: How close to 2**32 a counter must have been for a smaller read to count as a wrap.
WRAP_MARGIN = 1 << 24
#: Fastest a device is assumed to print when judging a jump (pages per minute), and the
#: slack allowed on top (a counter read a moment before a job starts, copies made at
#: the device).
MAX_PAGES_PER_MINUTE = 300
JUMP_SLACK = 1_000


def counter_flag(previous: int | None, current: int | None, elapsed: timedelta | None, *,
                 max_pages_per_minute: int = MAX_PAGES_PER_MINUTE) -> str | None:
    """None when ``current`` is a believable successor of ``previous``; else "wrap",
    "backwards" or "jump"."""
    if previous is None or current is None:
        return None
    if current < previous:
        if previous >= COUNTER32 - WRAP_MARGIN and current < WRAP_MARGIN:
            return "wrap"
        return "backwards"
    minutes = max(0.0, elapsed.total_seconds() / 60) if elapsed is not None else 0.0
    if current - previous > JUMP_SLACK + max_pages_per_minute * minutes:
        return "jump"
    return None


def expected_count(shape, unit: str) -> int | None:
    """What the job should add to a counter counting ``unit``: impressions (sides) or
    sheets; None for any other unit, or for a job whose pages were not counted."""
    if shape is None or not shape.counted:
        return None
    if unit == "impressions":
        return shape.sides
    if unit == "sheets":
        return shape.sheets
    return None


def shortfall_refund(charged: int, expected: int, counted: int) -> int:
    """The part of ``charged`` for the impressions that did not print, rounded up (what
    stays charged is never more than what printed), never more than was charged."""
    if charged <= 0 or expected <= 0 or counted >= expected:
        return 0
    kept = math.floor(charged * max(0, counted) / expected)
    return max(0, min(charged, charged - kept))


def _read(r, device) -> MeterRead:
    return MeterRead(id=r.id, device=device, at=aware(r.at), life_count=r.life_count, color_count=r.color_count,
                     mono_count=r.mono_count, reason=r.reason, flag=r.flag, period_start=aware(r.period_start))


def _check(r) -> JobMeterCheck:
    return JobMeterCheck(id=r.id, job_id=r.job_id, device=r.device_name, expected=r.expected, counted=r.counted,
                         before_count=r.before_count, after_count=r.after_count, outcome=r.outcome,
                         refunded=r.refunded, at=aware(r.at), note=r.note)


class MeterBook:
    def __init__(self, database: Database, *, max_pages_per_minute: int = MAX_PAGES_PER_MINUTE):
        self.db = database
        self.max_pages_per_minute = max_pages_per_minute

    def last_trusted(self, conn, fleet_id: int):
        return conn.execute(select(meter_reads).where(
            meter_reads.c.fleet_device_id == fleet_id, meter_reads.c.flag.is_(None),
            meter_reads.c.life_count.is_not(None)).order_by(meter_reads.c.id.desc()).limit(1)).first()

    def record_read(self, fleet_id: int, counters: Counters, *, reason: str = "poll",
                    period_start: datetime | None = None, now: datetime | None = None) -> MeterRead:
        """Store a read, flagged when implausible against the last trusted one. A trusted
        read also becomes the device's current counters. A second read for the same
        billing period returns the first."""
        now = now or utcnow()
        with self.db.writer.begin() as conn:
            if period_start is not None:
                existing = conn.execute(select(meter_reads).where(
                    meter_reads.c.fleet_device_id == fleet_id, meter_reads.c.period_start == period_start)).first()
                if existing is not None:
                    return _read(existing, self._name(conn, fleet_id))
            last = self.last_trusted(conn, fleet_id)
            flag = None
            if last is not None:
                flag = counter_flag(last.life_count, counters.life_count, now - aware(last.at),
                                    max_pages_per_minute=self.max_pages_per_minute)
            try:
                with conn.begin_nested():
                    new_id = conn.execute(insert(meter_reads).values(
                        fleet_device_id=fleet_id, at=now, life_count=counters.life_count,
                        color_count=counters.color_count, mono_count=counters.mono_count, reason=reason, flag=flag,
                        period_start=period_start)).inserted_primary_key[0]
            except IntegrityError:
                existing = conn.execute(select(meter_reads).where(
                    meter_reads.c.fleet_device_id == fleet_id, meter_reads.c.period_start == period_start)).first()
                return _read(existing, self._name(conn, fleet_id))
            if flag is None and counters.life_count is not None:
                conn.execute(update(fleet_devices).where(fleet_devices.c.id == fleet_id).values(
                    life_count=counters.life_count, counter_unit=counters.unit, color_count=counters.color_count,
                    mono_count=counters.mono_count, counters_at=now, last_seen_at=now))
            elif flag is not None:
                conn.execute(insert(fleet_events).values(
                    fleet_device_id=fleet_id, at=now, kind="counter", severity="flagged", code=None,
                    description=f"counter {flag}: {last.life_count} -> {counters.life_count}", source=reason))
            row = conn.execute(select(meter_reads).where(meter_reads.c.id == new_id)).first()
            return _read(row, self._name(conn, fleet_id))

    @staticmethod
    def _name(conn, fleet_id):
        row = conn.execute(select(fleet_devices.c.device_name, fleet_devices.c.address, fleet_devices.c.port)
                           .where(fleet_devices.c.id == fleet_id)).first()
        return row.device_name or f"{row.address}:{row.port}"

    def reads(self, key_id: int | None = None, *, reason: str | None = None, limit: int = 1000) -> list[MeterRead]:
        with self.db.reader.connect() as conn:
            query = (select(meter_reads, fleet_devices.c.device_name, fleet_devices.c.address, fleet_devices.c.port)
                     .join(fleet_devices, fleet_devices.c.id == meter_reads.c.fleet_device_id)
                     .order_by(meter_reads.c.id.desc()).limit(limit))
            if key_id is not None:
                query = query.where(meter_reads.c.fleet_device_id == key_id)
            if reason is not None:
                query = query.where(meter_reads.c.reason == reason)
            return [_read(r, r.device_name or f"{r.address}:{r.port}") for r in conn.execute(query)]

    def period_read_missing(self, fleet_id: int, period_start: datetime) -> bool:
        with self.db.reader.connect() as conn:
            return conn.execute(select(meter_reads.c.id).where(
                meter_reads.c.fleet_device_id == fleet_id, meter_reads.c.period_start == period_start)).first() is None

    # -- per-job reconciliation -------------------------------------------------------------
    def record_check(self, job_id: int, device_name: str, *, expected: int | None, before: int | None,
                     after: int | None, outcome: str | None = None, note: str = "", refund=None,
                     refund_shortfalls: bool = False, now: datetime | None = None) -> JobMeterCheck:
        """Record expected against counted for a released job (once per job). Without an
        ``outcome`` given, it is judged here: "uncounted", "unreadable", "implausible",
        "match", "excess" or "shortfall". A shortfall is refunded through ``refund(job_id,
        amount, actor=, reason=)`` when ``refund_shortfalls`` is on."""
        now = now or utcnow()
        counted = after - before if before is not None and after is not None else None
        if outcome is None:
            if expected is None:
                outcome = "uncounted"
            elif counted is None:
                outcome = "unreadable"
            elif counter_flag(before, after, None, max_pages_per_minute=0) in ("wrap", "backwards") or (
                    counted > max(expected, 1) * 10 + JUMP_SLACK):
                outcome, counted = "implausible", None
            elif counted == expected:
                outcome = "match"
            elif counted > expected:
                outcome = "excess"
            else:
                outcome = "shortfall"
        refunded = 0
        if outcome == "shortfall" and refund_shortfalls and refund is not None:
            with self.db.reader.connect() as conn:
                charged = conn.execute(select(jobs.c.charged_amount).where(jobs.c.id == job_id)).scalar() or 0
            amount = shortfall_refund(charged, expected, counted)
            if amount:
                try:
                    entry = refund(job_id, amount, actor="meter-check",
                                   reason=f"counter shows {counted} of {expected} impressions at {device_name}")
                except AccountingError as error:  # e.g. its charge is still pending: an admin refunds by hand
                    note = f"{note + '; ' if note else ''}not refunded: {error}"
                else:
                    refunded = entry.amount
        with self.db.writer.begin() as conn:
            existing = conn.execute(select(job_meter_checks).where(job_meter_checks.c.job_id == job_id)).first()
            if existing is not None:
                return _check(existing)
            conn.execute(insert(job_meter_checks).values(
                job_id=job_id, device_name=device_name, expected=expected, counted=counted, before_count=before,
                after_count=after, outcome=outcome, refunded=refunded, note=note[:255], at=now))
            return _check(conn.execute(select(job_meter_checks).where(job_meter_checks.c.job_id == job_id)).first())

    def checks(self, *, device_name: str | None = None, outcomes=None, limit: int = 1000) -> list[JobMeterCheck]:
        with self.db.reader.connect() as conn:
            query = select(job_meter_checks).order_by(job_meter_checks.c.id.desc()).limit(limit)
            if device_name:
                query = query.where(job_meter_checks.c.device_name == device_name)
            if outcomes:
                query = query.where(job_meter_checks.c.outcome.in_(outcomes))
            return [_check(r) for r in conn.execute(query)]

    def purge(self, cutoff: datetime, *, batch: int = 5_000) -> dict:
        """Poll and release reads and job checks past retention; period reads (billing
        records) are kept."""
        counts = {"meter_reads": 0, "job_meter_checks": 0}
        for name, table, extra in (("meter_reads", meter_reads, meter_reads.c.period_start.is_(None)),
                                   ("job_meter_checks", job_meter_checks, None)):
            while True:
                with self.db.writer.begin() as conn:
                    query = select(table.c.id).where(table.c.at < cutoff)
                    if extra is not None:
                        query = query.where(extra)
                    ids = list(conn.execute(query.limit(batch)).scalars())
                    if not ids:
                        break
                    counts[name] += conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount
        return counts
