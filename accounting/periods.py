"""Period close: a month whose figures are frozen.

``PeriodBook.close("2026-11")`` records the month's bounds (midnight to midnight in the
configured zone, kept as UTC instants) once the month has ended. From then on no ledger
row may be dated inside it: ``accounting.ledger.post`` refuses with ``PeriodClosed``, and a
trigger (migration 0005) refuses any other write that would insert, change or delete a
ledger row there, so even code that bypasses the ledger cannot. A correction of a closed
period's charge is an adjustment in the open period that names the entry it corrects
(``Ledger.correct``). Because every ledger row carries its chargeback facts as they were
when it was posted (cost center, user, group, device, counts), a closed period's
chargeback is the same, byte for byte, however often and however late it is run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountingError
from accounting.schema import closed_periods
from accounting.time import aware, local_midnight, utcnow

MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(AccountingError):
    """Base of the period errors."""


class InvalidPeriod(PeriodError):
    def __init__(self, text):
        super().__init__(f"not a month: {text!r} (write it as YYYY-MM, e.g. 2026-11)")
        self.text = text


class PeriodNotEnded(PeriodError):
    def __init__(self, period, ends_at):
        super().__init__(f"{period} has not ended yet (it ends {ends_at:%Y-%m-%d %H:%M} UTC); only a past month "
                         "can be closed")
        self.period = period
        self.ends_at = ends_at


class PeriodAlreadyClosed(PeriodError):
    def __init__(self, period):
        super().__init__(f"{period} is already closed")
        self.period = period


class PeriodClosed(PeriodError):
    """A ledger row would be dated inside a closed period: nothing was written."""

    def __init__(self, period, at):
        super().__init__(f"period {period} is closed: nothing may be dated {at:%Y-%m-%d %H:%M:%S} UTC; "
                         "correct it with an adjustment in the open period")
        self.period = period
        self.at = at


@dataclass(frozen=True)
class ClosedPeriod:
    period: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    closed_at: datetime
    closed_by: str


def month_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which the month ``YYYY-MM`` starts and ends in ``tz``."""
    found = MONTH.match(period or "")
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise InvalidPeriod(period)
    year, month = int(found.group(1)), int(found.group(2))
    following = date(year + month // 12, month % 12 + 1, 1)
    return local_midnight(date(year, month, 1), tz), local_midnight(following, tz)


def closed_period_at(conn, at: datetime) -> str | None:
    """The closed period containing the instant ``at`` (UTC), if any."""
    return conn.execute(select(closed_periods.c.period).where(
        closed_periods.c.starts_at <= at, closed_periods.c.ends_at > at)).scalar()


def closed_overlapping(conn, start: datetime, end: datetime) -> list[ClosedPeriod]:
    rows = conn.execute(select(closed_periods).where(closed_periods.c.starts_at < end,
                                                     closed_periods.c.ends_at > start)
                        .order_by(closed_periods.c.starts_at)).all()
    return [_period(row) for row in rows]


def _period(row) -> ClosedPeriod:
    return ClosedPeriod(period=row.period, starts_at=aware(row.starts_at), ends_at=aware(row.ends_at),
                        timezone=row.timezone, closed_at=aware(row.closed_at), closed_by=row.closed_by)


class PeriodBook:
    def __init__(self, database: Database, *, tz: ZoneInfo):
        self.db = database
        self.tz = tz

    def close(self, period: str, *, actor: str, now: datetime | None = None) -> ClosedPeriod:
        """Close the month ``period`` (it must have ended in the configured zone)."""
        start, end = month_bounds(period, self.tz)
        now = now or utcnow()
        if end > now:
            raise PeriodNotEnded(period, end)
        try:
            with self.db.writer.begin() as conn:
                if conn.execute(select(closed_periods.c.id).where(closed_periods.c.period == period)).first():
                    raise PeriodAlreadyClosed(period)
                conn.execute(insert(closed_periods).values(period=period, starts_at=start, ends_at=end,
                                                           timezone=self.tz.key, closed_at=now, closed_by=actor[:255]))
                audit(conn, actor=actor, action="period.close", target=period,
                      new={"starts_at": start.isoformat(), "ends_at": end.isoformat(), "timezone": self.tz.key})
        except IntegrityError:
            raise PeriodAlreadyClosed(period) from None
        return self.get(period)

    def get(self, period: str) -> ClosedPeriod | None:
        with self.db.reader.connect() as conn:
            row = conn.execute(select(closed_periods).where(closed_periods.c.period == period)).first()
        return _period(row) if row else None

    def list(self) -> list[ClosedPeriod]:
        with self.db.reader.connect() as conn:
            return [_period(row) for row in conn.execute(select(closed_periods).order_by(closed_periods.c.starts_at))]

    def overlapping(self, start: datetime, end: datetime) -> list[ClosedPeriod]:
        with self.db.reader.connect() as conn:
            return closed_overlapping(conn, start, end)
