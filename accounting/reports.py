"""Finance reports, computed here and exported by the application layer.

Every report covers a half-open period ``[start, end)`` given as local dates in the
configured zone (``report_period``). Rows stream from the database as named tuples —
millions of job-log rows never sit in memory at once — and money is integer minor units.

- **Chargeback** (``chargeback``): ledger rows of the chargeback kinds (charge, refund,
  adjustment) grouped by one or two of ``GROUPINGS``, with the printed counts each charge
  row froze when it was posted (``accounting.charge_facts``). Its totals are the ledger's
  movements of the period, to the minor unit: ``charged`` is minus the sum of the
  charges, ``refunds`` the sum of the refunds, ``adjustments`` minus the sum of the
  adjustments (positive when they took money), and ``net = charged - refunds +
  adjustments``, minus the sum of all three kinds.
- **Job log** (``job_log``): every job that ended in the period (printed, cancelled,
  expired, deleted: final states, so a closed month's log cannot change — until
  retention purges its rows, which is retention's purpose) and every job refused at
  intake, in order of completion.
- **Policy report** (``policy_report``): every refused or changed job's policy record.
- **Usage** (``usage``): chargeback figures by local day, week or month (and device).
- **Why this price** (``explain_price``): the price list, the line items and the rules.
"""
from __future__ import annotations

import heapq
import itertools
import json
from collections import namedtuple
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from operator import itemgetter
from typing import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, func, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from accounting.database import Database
from accounting.errors import AccountingError, JobNotFound
from accounting.periods import ClosedPeriod, closed_overlapping
from accounting.pricing import PriceLine, price, price_lines, price_milli
from accounting.schema import accounts, jobs, ledger_entries, policy_records, queues
from accounting.time import aware, local_midnight

#: --by name -> ledger column (``account`` is the account's name, joined after grouping).
GROUPINGS = {
    "cost-center": "cost_center",
    "account": "account_id",
    "user": "username",
    "group": "group_name",
    "device": "device",
    "queue": "queue",
    "price-list": "price_list",
}
BUCKETS = ("day", "week", "month")
FINAL_JOB_STATES = ("released", "canceled", "expired", "deleted")
#: What the job log calls each final state.
RESULTS = {"released": "printed", "canceled": "cancelled", "expired": "expired", "deleted": "deleted",
           "refused": "refused"}


class ReportError(AccountingError):
    """Base of the report errors."""


class InvalidReportDate(ReportError):
    def __init__(self, text, problem="not a date (write it as YYYY-MM-DD)"):
        super().__init__(f"{text!r}: {problem}")
        self.text = text
        self.problem = problem


class UnknownGrouping(ReportError):
    def __init__(self, name):
        super().__init__(f"unknown grouping {name!r}; choose from {', '.join(GROUPINGS)} (one or two, "
                         "comma-separated)")
        self.name = name


@dataclass(frozen=True)
class ReportPeriod:
    """``[start, end)`` in UTC for the local dates ``first_day`` .. ``last_day`` inclusive."""

    first_day: date
    last_day: date
    start: datetime
    end: datetime
    timezone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def label(self) -> str:
        return f"{self.first_day:%Y-%m-%d} to {self.last_day:%Y-%m-%d} ({self.timezone})"


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise InvalidReportDate(text) from None


def report_period(from_text: str, to_text: str, tz: ZoneInfo) -> ReportPeriod:
    """``--from DATE --to DATE``: from the start of the first day to the start of the
    second (half-open), in ``tz``."""
    first, end_day = parse_day(from_text), parse_day(to_text)
    if end_day <= first:
        raise InvalidReportDate(to_text, f"must be after --from {first:%Y-%m-%d} (the period is half-open: "
                                         "--to is the first day not included)")
    return ReportPeriod(first_day=first, last_day=end_day - timedelta(days=1), start=local_midnight(first, tz),
                        end=local_midnight(end_day, tz), timezone=tz.key)


def parse_grouping(text) -> tuple[str, ...]:
    names = [part.strip() for part in (text.split(",") if isinstance(text, str) else text) if part.strip()]
    if not 1 <= len(names) <= 2:
        raise UnknownGrouping(",".join(names) or "")
    for name in names:
        if name not in GROUPINGS:
            raise UnknownGrouping(name)
    if len(set(names)) != len(names):
        raise UnknownGrouping(",".join(names))
    return tuple(names)


@dataclass
class ChargebackRow:
    keys: tuple
    jobs: int = 0
    pages: int = 0
    impressions: int = 0
    sheets: int = 0
    color_impressions: int = 0
    mono_impressions: int = 0
    duplex_jobs: int = 0
    charged: int = 0
    refunds: int = 0
    adjustments: int = 0

    COUNTS = ("jobs", "pages", "impressions", "sheets", "color_impressions", "mono_impressions", "duplex_jobs",
              "charged", "refunds", "adjustments")

    @property
    def net(self) -> int:
        return self.charged - self.refunds + self.adjustments

    @property
    def duplex_share(self) -> float:
        """Share of the jobs printed two-sided (0..1); a ratio for display, not money."""
        return self.duplex_jobs / self.jobs if self.jobs else 0.0

    def add(self, other: "ChargebackRow") -> None:
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _chargeback_sums(table):
    charge = table.c.kind == "charge"

    def when(condition, value):
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    return [
        when(and_(charge, table.c.job_id.is_not(None)), 1).label("jobs"),
        func.coalesce(func.sum(table.c.pages), 0).label("pages"),
        func.coalesce(func.sum(table.c.impressions), 0).label("impressions"),
        func.coalesce(func.sum(table.c.sheets), 0).label("sheets"),
        func.coalesce(func.sum(table.c.color_impressions), 0).label("color_impressions"),
        func.coalesce(func.sum(table.c.mono_impressions), 0).label("mono_impressions"),
        when(and_(charge, table.c.duplex.is_(True)), 1).label("duplex_jobs"),
        (-when(charge, table.c.amount)).label("charged"),
        when(table.c.kind == "refund", table.c.amount).label("refunds"),
        (-when(table.c.kind == "adjustment", table.c.amount)).label("adjustments"),
    ]


JobLogRow = namedtuple("JobLogRow", (
    "job_id", "name", "submitted", "completed", "device", "queue", "result", "pages", "impressions", "sheets",
    "color_pages", "duplex", "media", "copies", "price", "account", "owner", "workstation", "protocol",
    "rule", "changes"))

PolicyRow = namedtuple("PolicyRow", (
    "at", "workstation", "server", "queue", "document", "user", "duplex", "color", "impressions", "price",
    "action", "notified", "message", "rule", "changes"))

UsageRow = namedtuple("UsageRow", ("bucket", "device", "jobs", "pages", "impressions", "sheets",
                                   "color_impressions", "mono_impressions", "net"))


@dataclass
class RuleEffect:
    rule: str
    action: str
    changes: dict
    message: str
    at: datetime | None = None


@dataclass
class PriceExplanation:
    """Why job ``job_id`` cost what it did: the list, its terms, the rules."""

    job_id: int
    title: str
    owner: str
    state: str
    device: str | None
    queue: str
    price_list: str
    currency: str
    counted: bool
    lines: list[PriceLine]
    total_milli: int
    price: int
    charged: int | None
    charged_price_list: str | None
    rules: list[RuleEffect] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Reports:
    """The report queries over one database. ``explain_prices`` is the release desk's
    ``printed_at`` (price list and shape of a job on a device), so "why this price" is
    computed exactly as the charge was."""

    def __init__(self, database: Database, *, tz: ZoneInfo, printed_at=None, prices=None):
        self.db = database
        self.tz = tz
        self.printed_at = printed_at
        self.prices = prices

    # -- periods ------------------------------------------------------------------------
    def period(self, from_text: str, to_text: str) -> ReportPeriod:
        return report_period(from_text, to_text, self.tz)

    def closed_within(self, period: ReportPeriod) -> list[ClosedPeriod]:
        with self.db.reader.connect() as conn:
            return closed_overlapping(conn, period.start, period.end)

    def currency(self) -> str:
        if self.prices is None:
            return "EUR"
        return self.prices.by_id(None).currency

    def _connect(self):
        """A reading connection that streams its results (a server-side cursor on
        PostgreSQL; SQLite's cursor steps through rows as they are fetched)."""
        return self.db.reader.connect().execution_options(stream_results=True, yield_per=2000)

    def _sort(self, expression):
        """Byte order on both engines (SQLite's BINARY is UTF-8 byte order; PostgreSQL's
        "C" collation is too), so the same data sorts the same everywhere."""
        return expression if self.db.is_sqlite else expression.collate("C")

    # -- chargeback ---------------------------------------------------------------------
    def chargeback(self, period: ReportPeriod, by=("cost-center",)) -> Iterator[ChargebackRow]:
        """Rows grouped by ``by`` (one or two of GROUPINGS), in key order."""
        by = parse_grouping(by)
        le = ledger_entries
        raw_keys = [func.coalesce(le.c[GROUPINGS[name]], literal(0) if name == "account" else literal(""))
                    .label(f"k{i}") for i, name in enumerate(by)]
        inner = (select(*raw_keys, *_chargeback_sums(le))
                 .where(le.c.created_at >= period.start, le.c.created_at < period.end,
                        le.c.kind.in_(("charge", "refund", "adjustment")))
                 .group_by(*[key.name for key in raw_keys])
                 .subquery())
        shown = []
        joined = inner
        for i, name in enumerate(by):
            if name == "account":
                alias = accounts.alias(f"a{i}")
                joined = joined.outerjoin(alias, alias.c.id == inner.c[f"k{i}"])
                shown.append(func.coalesce(alias.c.name, literal("")))
            else:
                shown.append(inner.c[f"k{i}"])
        query = (select(*[key.label(f"key{i}") for i, key in enumerate(shown)],
                        *[inner.c[name] for name in ChargebackRow.COUNTS]).select_from(joined)
                 .order_by(*[self._sort(key) for key in shown]))
        with self._connect() as conn:
            for row in conn.execute(query):
                values = tuple(row)
                yield ChargebackRow(tuple(values[:len(by)]), *[int(v) for v in values[len(by):]])

    def ledger_movements(self, period: ReportPeriod) -> dict[str, int]:
        """The sum of the ledger's amounts per kind in the period (what a chargeback's
        totals must equal)."""
        le = ledger_entries
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(le.c.kind, func.sum(le.c.amount)).where(
                le.c.created_at >= period.start, le.c.created_at < period.end).group_by(le.c.kind)).all()
        return {kind: int(total) for kind, total in rows}

    # -- job log ------------------------------------------------------------------------
    def _time(self, column):
        """On SQLite, datetimes come back as their stored text and are parsed here (about
        ten times cheaper than SQLAlchemy's per-value processing, which matters at
        millions of rows); PostgreSQL's driver returns aware datetimes itself."""
        return type_coerce(column, String) if self.db.is_sqlite else column

    @contextmanager
    def _rows(self, query):
        """The rows of ``query`` as plain tuples, streamed. On SQLite they are read from
        the DBAPI cursor SQLAlchemy executed the statement on: its per-row work was a
        third of a job-log export's time, and these columns need none of it (times come
        as their stored text, parsed by ``_local_times``; booleans as 0/1)."""
        if not self.db.is_sqlite:
            with self._connect() as conn:
                yield conn.execute(query)
            return
        with self.db.reader.connect() as conn:
            result = conn.execute(query)
            try:
                result.cursor.arraysize = 2000
                yield iter(result.cursor)
            finally:
                result.close()

    def _local_times(self):
        """A converter of stored UTC times (text on SQLite, datetimes on PostgreSQL) to
        aware local times. The zone's offset is looked up once per minute of UTC time met
        (zone changes happen on minute boundaries), not once per value."""
        offsets: dict = {}
        tz = self.tz
        fromisoformat = datetime.fromisoformat

        def local(value):
            if value is None:
                return None
            if not isinstance(value, str):
                return self._to_local(value)
            minute = value[:16]
            zone_now = offsets.get(minute)
            if zone_now is None:
                instant = fromisoformat(minute).replace(tzinfo=timezone.utc)
                zone_now = offsets[minute] = timezone(instant.astimezone(tz).utcoffset())
            naive = fromisoformat(value)
            return (naive + zone_now.utcoffset(None)).replace(tzinfo=zone_now)

        return local

    def _local_texts(self):
        """A converter of stored UTC times to local text ``YYYY-MM-DD HH:MM:SS`` (seconds
        cut, as ``isoformat(" ", "seconds")`` does), equal to what ``_local_times`` gives,
        written out. On SQLite the local minute is worked out once per minute of UTC time
        met and the stored text's seconds appended to it."""
        minutes: dict = {}
        tz = self.tz
        to_local = self._to_local

        def local(value):
            if value is None:
                return None
            if not isinstance(value, str) or len(value) < 19:
                return to_local(value).isoformat(" ", "seconds")[:19]
            minute = value[:16]
            prefix = minutes.get(minute)
            if prefix is None:
                instant = datetime.fromisoformat(minute).replace(tzinfo=timezone.utc).astimezone(tz)
                # A zone whose offset has seconds (old local mean times) shifts the seconds too.
                prefix = minutes[minute] = instant.strftime("%Y-%m-%d %H:%M") if not instant.utcoffset().seconds % 60 \
                    else False
            if prefix is False:
                return to_local(value).isoformat(" ", "seconds")[:19]
            return prefix + value[16:19]

        return local

    def _to_local(self, value):
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=timezone.utc).astimezone(self.tz)
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(self.tz)

    def _media(self):
        if self.db.is_sqlite:
            return func.json_extract(jobs.c.facts, "$.media[0]")
        return type_coerce(jobs.c.facts, String).cast(JSONB)["media"][0].astext

    def job_log(self, period: ReportPeriod, *, text_times: bool = False) -> Iterator[JobLogRow]:
        """Jobs that ended in the period and jobs refused at intake, by completion time.
        (Without refusals the merge, a cost on every row, is left out.) ``text_times``:
        the times as local text, ``YYYY-MM-DD HH:MM:SS``, instead of datetimes — what a
        CSV writes, made without a datetime per value (a third of a CSV job log's time)."""
        refused = self._refused_jobs(period, text_times, keyed=True)
        first = next(refused, None)
        if first is None:
            return self._ended_jobs(period, text_times)
        # Merged on the stored instants: local times repeat in the hour summer time ends.
        merged = heapq.merge(self._ended_jobs(period, text_times, keyed=True), itertools.chain((first,), refused),
                             key=itemgetter(0))
        return (row for _, row in merged)

    def job_log_count(self, period: ReportPeriod) -> int:
        """How many rows ``job_log`` yields (for a progress bar)."""
        pr = policy_records
        with self.db.reader.connect() as conn:
            ended = conn.execute(select(func.count()).select_from(jobs).where(
                jobs.c.state.in_(FINAL_JOB_STATES), jobs.c.updated_at >= period.start,
                jobs.c.updated_at < period.end)).scalar()
            refused = conn.execute(select(func.count()).select_from(pr).where(
                pr.c.action == "deny", pr.c.at >= period.start, pr.c.at < period.end)).scalar()
        return ended + refused

    def job_log_summary(self, period: ReportPeriod) -> dict:
        """Jobs per result, pages printed and money charged for the job log's cover."""
        pr = policy_records
        ended = (jobs.c.state.in_(FINAL_JOB_STATES), jobs.c.updated_at >= period.start, jobs.c.updated_at < period.end)
        with self.db.reader.connect() as conn:
            states = dict(conn.execute(select(jobs.c.state, func.count()).where(*ended).group_by(jobs.c.state)).all())
            pages, charged = conn.execute(select(
                func.coalesce(func.sum(jobs.c.impressions), 0), func.coalesce(func.sum(jobs.c.charged_amount), 0))
                .where(*ended, jobs.c.state == "released")).one()
            refused = conn.execute(select(func.count()).select_from(pr).where(
                pr.c.action == "deny", pr.c.at >= period.start, pr.c.at < period.end)).scalar()
        results = {RESULTS[state]: states.get(state, 0) for state in FINAL_JOB_STATES}
        results["refused"] = refused
        return {"results": results, "pages": int(pages), "charged": int(charged)}

    def policy_summary(self, period: ReportPeriod) -> dict:
        pr = policy_records
        with self.db.reader.connect() as conn:
            return dict(conn.execute(select(pr.c.action, func.count()).where(
                pr.c.at >= period.start, pr.c.at < period.end).group_by(pr.c.action).order_by(pr.c.action)).all())

    def _ended_jobs(self, period: ReportPeriod, text_times: bool = False, keyed: bool = False) -> Iterator:
        """Rows of the jobs that ended; ``keyed``: (stored completion instant, row) pairs."""
        query = (select(jobs.c.id, jobs.c.title, self._time(jobs.c.received_at), self._time(jobs.c.updated_at),
                        jobs.c.release_device, queues.c.name, jobs.c.state, jobs.c.pages, jobs.c.impressions,
                        jobs.c.sheets, jobs.c.color_pages, jobs.c.duplex, self._media(), jobs.c.copies,
                        jobs.c.copies_requested, jobs.c.charged_amount, jobs.c.price_estimate, accounts.c.name,
                        jobs.c.owner, jobs.c.source_host, jobs.c.protocol, jobs.c.decision_rule,
                        jobs.c.decision_changes)
                 .join(queues, queues.c.id == jobs.c.queue_id)
                 .outerjoin(accounts, accounts.c.id == jobs.c.account_id)
                 .where(jobs.c.state.in_(FINAL_JOB_STATES), jobs.c.updated_at >= period.start,
                        jobs.c.updated_at < period.end)
                 .order_by(jobs.c.updated_at, jobs.c.id))
        local = self._local_texts() if text_times else self._local_times()
        with self._rows(query) as rows:
            for (job_id, title, received, updated, device, queue, state, pages, impressions, sheets, color_pages,
                 duplex, media, copies, copies_requested, charged, estimate, account, owner, host, protocol, rule,
                 changes) in rows:
                printed = state == "released"
                row = JobLogRow(job_id, title, local(received), local(updated), device, queue, RESULTS[state],
                                pages, impressions, sheets, color_pages, None if duplex is None else bool(duplex),
                                media, (copies or 1) * (copies_requested or 1),
                                (charged or 0) if printed else 0, account if printed else None, owner, host,
                                protocol, rule if changes and changes != "{}" else None,
                                changes if changes and changes != "{}" else None)
                yield (updated, row) if keyed else row

    def _refused_jobs(self, period: ReportPeriod, text_times: bool = False, keyed: bool = False) -> Iterator:
        pr = policy_records
        query = (select(self._time(pr.c.at), pr.c.document_name, pr.c.queue, pr.c.impressions, pr.c.color,
                        pr.c.duplex, pr.c.username, pr.c.workstation, pr.c.rule_name)
                 .where(pr.c.action == "deny", pr.c.at >= period.start, pr.c.at < period.end)
                 .order_by(pr.c.at, pr.c.id))
        local = self._local_texts() if text_times else self._to_local
        with self._connect() as conn:
            for at, document, queue, impressions, color, duplex, user, host, rule in conn.execute(query):
                when = local(at)
                row = JobLogRow(None, document, when, when, None, queue, "refused", None, impressions, None, None,
                                None if duplex is None else bool(duplex), None, None, 0, None, user, host, None,
                                rule, None)
                yield (at, row) if keyed else row

    # -- policy report ------------------------------------------------------------------
    def policy_report(self, period: ReportPeriod) -> Iterator[PolicyRow]:
        pr = policy_records
        query = (select(self._time(pr.c.at), pr.c.workstation, pr.c.server, pr.c.queue, pr.c.document_name,
                        pr.c.username, pr.c.duplex, pr.c.color, pr.c.impressions, pr.c.price, pr.c.action,
                        pr.c.notified, pr.c.message, pr.c.rule_name, pr.c.changes)
                 .where(pr.c.at >= period.start, pr.c.at < period.end).order_by(pr.c.at, pr.c.id))
        with self._connect() as conn:
            for row in conn.execute(query):
                row = list(row)
                row[0] = self._to_local(row[0])
                for i in (6, 7, 11):
                    row[i] = None if row[i] is None else bool(row[i])
                yield PolicyRow(*row)

    # -- usage --------------------------------------------------------------------------
    def usage(self, period: ReportPeriod, *, bucket: str = "day", by_device: bool = True) -> Iterator[UsageRow]:
        """Chargeback figures per local ``bucket`` (day, week from Monday, month), and per
        device unless ``by_device`` is false. Rows in time order, then device."""
        if bucket not in BUCKETS:
            raise ReportError(f"unknown bucket {bucket!r}; choose from {', '.join(BUCKETS)}")
        folded: dict[tuple, list[int]] = {}
        for day, device, *figures in self._daily(period, by_device):
            key = (_bucket_start(day, bucket), device)
            totals = folded.get(key)
            if totals is None:
                folded[key] = list(figures)
            else:
                for i, value in enumerate(figures):
                    totals[i] += value
        for (start, device), figures in sorted(folded.items(), key=lambda item: (item[0][0], item[0][1].encode())):
            yield UsageRow(start, device, *figures)

    def _daily(self, period: ReportPeriod, by_device: bool):
        """(local day, device, jobs, pages, impressions, sheets, colour, mono, net) per day
        and device. PostgreSQL converts to the zone itself; SQLite, which knows no zones,
        is asked once per stretch of constant UTC offset (a year in a zone with summer
        time is three stretches), shifting each instant by that offset."""
        le = ledger_entries
        figures = _chargeback_sums(le)[:6] + [(-func.sum(le.c.amount)).label("net")]
        device = func.coalesce(le.c.device, literal("")) if by_device else literal("")
        kinds = le.c.kind.in_(("charge", "refund", "adjustment"))
        if not self.db.is_sqlite:
            day = func.date(func.timezone(period.timezone, le.c.created_at))
            spans = [(period.start, period.end, day)]
        else:
            spans = [(start, end, func.date(le.c.created_at, f"{offset:+d} seconds"))
                     for start, end, offset in offset_spans(period.start, period.end, self.tz)]
        with self.db.reader.connect() as conn:
            for start, end, day in spans:
                query = (select(day.label("day"), device.label("device"), *figures)
                         .where(le.c.created_at >= start, le.c.created_at < end, kinds)
                         .group_by(day, device))
                for row in conn.execute(query):
                    value = row[0] if isinstance(row[0], date) else date.fromisoformat(row[0])
                    yield (value, row[1], *[int(v) for v in row[2:]])

    # -- why this price -----------------------------------------------------------------
    def explain_price(self, job_id: int) -> PriceExplanation:
        with self.db.reader.connect() as conn:
            row = conn.execute(select(jobs, queues.c.name.label("queue_name"))
                               .join(queues, queues.c.id == jobs.c.queue_id).where(jobs.c.id == job_id)).first()
            if row is None:
                raise JobNotFound(job_id)
            device = row.release_device
            price_list, shape = self.printed_at(conn, row, device)
            charge = conn.execute(select(ledger_entries.c.amount, ledger_entries.c.price_list).where(
                ledger_entries.c.job_id == job_id, ledger_entries.c.kind == "charge")).first()
            records = conn.execute(select(policy_records).where(
                policy_records.c.decision_id == row.decision_id)).all() if row.decision_id else []
        lines = price_lines(price_list, shape)
        total = price_milli(price_list, shape)
        explanation = PriceExplanation(
            job_id=job_id, title=row.title, owner=row.owner, state=row.state, device=device, queue=row.queue_name,
            price_list=price_list.name, currency=price_list.currency, counted=shape.counted, lines=lines,
            total_milli=total, price=price(price_list, shape), charged=-charge.amount if charge else None,
            charged_price_list=charge.price_list if charge else None)
        changes = json.loads(row.decision_changes) if row.decision_changes else {}
        if changes or row.decision_action in ("hold-confirm",):
            explanation.rules.append(RuleEffect(rule=row.decision_rule or "", action=row.decision_action or "",
                                                changes=changes, message=row.decision_message or ""))
        for record in records:
            explanation.rules.append(RuleEffect(rule=record.rule_name, action=record.action,
                                                changes=json.loads(record.changes or "{}"), message=record.message,
                                                at=aware(record.at)))
        if not shape.counted:
            explanation.notes.append(f"the analyzer could not count the pages: priced as {price_list.unknown_pages} "
                                     "page(s) per copy, the price list's rule for unknown counts")
        if total % 1000:
            explanation.notes.append(f"the exact price, {total} thousandths of a minor unit, is rounded once, half "
                                     "up, to whole minor units")
        if device is None:
            explanation.notes.append("not released yet: priced with the queue's price list")
        if explanation.charged is not None and explanation.charged != explanation.price:
            explanation.notes.append(
                f"charged {explanation.charged} under price list {explanation.charged_price_list!r}; "
                f"today's list gives {explanation.price} (the list has changed since)")
        return explanation


def _bucket_start(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def offset_spans(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime, datetime, int]]:
    """``[start, end)`` cut where ``tz``'s UTC offset changes: (from, to, offset seconds).
    Offsets are probed hourly and each change is pinned to the second by bisection."""
    spans = []
    span_start = start
    offset = _offset(start, tz)
    probe = start
    while probe < end:
        following = min(probe + timedelta(hours=1), end)
        if following < end and _offset(following, tz) != offset:
            low, high = probe, following
            while (high - low) > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset(middle, tz) == offset:
                    low = middle
                else:
                    high = middle
            high = high.replace(microsecond=0)
            spans.append((span_start, high, offset))
            span_start, offset = high, _offset(high, tz)
        probe = following
    spans.append((span_start, end, offset))
    return spans


def _offset(at: datetime, tz: ZoneInfo) -> int:
    return int(at.astimezone(tz).utcoffset().total_seconds())
