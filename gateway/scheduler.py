"""The calendar scheduler the running gateway drives: scheduled reports, backups and
printer-data exports (``printgate schedule add report|backup|fleet-export ...``), and any other kind of calendar job an
issue registers with ``Scheduler.register(kind, produce)``.

**When.** A schedule's cadence is a cron expression read in the configured zone
(``[server] timezone``); ``daily``, ``weekly`` and ``monthly`` are written as cron
expressions by ``cadence``. The next time is computed by croniter, which handles summer
time (a 02:30 run on the night the clocks skip 02:00-03:00 runs at 03:00 once).

**How.** A ``LoopingCall`` on the reactor ticks every ``interval`` seconds. Each tick,
in the reactor's thread pool: claim the due schedules (``accounting.schedules``: a
conditional UPDATE, so several nodes run a schedule once), produce each one's files
(``produce(schedule, due_at, directory) -> [paths]``; blocking work, in the pool), then
deliver them to each destination (files in the pool, mail through the injected
``send(EmailMessage) -> Deferred``). The reactor never waits on any of it. A destination
that fails is retried with exponential backoff (``RETRY_DELAYS``), only that one; after
the last try the run is "failed". Each outcome is logged and kept on the run, which
``printgate schedule list`` shows. Produced files are kept under
``<data-dir>/schedule-outbox/<run>/`` until every destination has them.
"""
from __future__ import annotations

import random
import shutil
import tarfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter
from twisted.internet.defer import DeferredList, inlineCallbacks, maybeDeferred
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from accounting.backup import backup_database
from accounting.errors import UnknownSecret
from accounting.reports import report_period
from gateway.destinations import (DestinationError, deliver_by_sftp, deliver_by_smb, deliver_to_directory,
                                  mail_message, parse_destination)
from gateway.reports.produce import SUFFIXES, write_report_file
from gateway.reports.tables import build_table
from printgate_errors import PrintgateError

log = Logger()

#: Pause before each retry of a failed delivery (then the run is "failed").
RETRY_DELAYS = (60, 300, 900, 3600, 3 * 3600)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERIODS = ("previous-day", "previous-week", "previous-month")


class ScheduleError(PrintgateError):
    pass


def cadence(every: str | None = None, *, at: str = "06:00", day: str | None = None, cron: str | None = None) -> str:
    """The cron expression for ``--every daily|weekly|monthly --at HH:MM [--day ...]`` or
    ``--cron EXPR`` (checked)."""
    if cron is not None:
        if every is not None:
            raise ScheduleError("give --every or --cron, not both")
        expression = " ".join(cron.split())
    else:
        try:
            hour, minute = (int(part) for part in at.split(":"))
            if not (0 <= hour < 24 and 0 <= minute < 60):
                raise ValueError
        except ValueError:
            raise ScheduleError(f"--at takes HH:MM, not {at!r}") from None
        if every == "daily":
            expression = f"{minute} {hour} * * *"
        elif every == "weekly":
            weekday = (day or "mon").lower()[:3]
            if weekday not in WEEKDAYS:
                raise ScheduleError(f"--day for a weekly schedule is one of {', '.join(WEEKDAYS)}")
            expression = f"{minute} {hour} * * {weekday}"
        elif every == "monthly":
            try:
                month_day = int(day or 1)
                if not 1 <= month_day <= 28:
                    raise ValueError
            except ValueError:
                raise ScheduleError("--day for a monthly schedule is 1 to 28") from None
            expression = f"{minute} {hour} {month_day} * *"
        else:
            raise ScheduleError("--every is daily, weekly or monthly (or give --cron)")
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ScheduleError(f"not a cron expression (minute hour day month weekday): {expression!r}")
    return expression


def next_run(expression: str, after: datetime, tz: ZoneInfo) -> datetime:
    """The first time strictly after ``after`` that ``expression`` names in ``tz`` (UTC)."""
    local = after.astimezone(tz)
    return croniter(expression, local).get_next(datetime).astimezone(timezone.utc)


def jittered(at: datetime, params: dict, rng=random) -> datetime:
    """``at`` moved forward by a random part of the schedule's ``jitter_minutes`` window
    (``fleet-export``: many gateways sharing a server do not all arrive at once). The
    moved time is the stored next run, so the wait holds nothing and survives a restart;
    the next run after it is the cadence's next time after the moved one."""
    window = float(params.get("jitter_minutes", 0) or 0)
    return at + timedelta(seconds=rng.uniform(0, window * 60)) if window > 0 else at


def report_period_before(due_at: datetime, period: str, tz: ZoneInfo) -> tuple[date, date]:
    """The last whole day, week (Monday-Sunday) or month before ``due_at`` (local):
    (first day, first day not included)."""
    today = due_at.astimezone(tz).date()
    if period == "previous-day":
        return today - timedelta(days=1), today
    if period == "previous-week":
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday
    if period == "previous-month":
        first = today.replace(day=1)
        return (first - timedelta(days=1)).replace(day=1), first
    raise ScheduleError(f"unknown period {period!r}; choose from {', '.join(PERIODS)}")


@dataclass
class Delivery:
    """How destinations are reached: ``send(EmailMessage) -> Deferred`` for mail, the
    secret store for passwords, the known-hosts file for SFTP."""

    send: object
    secrets: object
    known_hosts: Path
    mail_from: str = "printgate@localhost"
    timeout: float = 30.0

    def password(self, destination):
        if self.secrets is None or destination.key_file:
            return None
        try:
            return self.secrets.reveal(destination.secret_name)
        except UnknownSecret:
            return None


class Scheduler:
    def __init__(self, *, reactor, threadpool, book, tz: ZoneInfo, outbox: Path, delivery: Delivery,
                 interval: float = 30.0, retry_delays=RETRY_DELAYS, now=None):
        self.reactor = reactor
        self.pool = threadpool
        self.book = book
        self.tz = tz
        self.outbox = Path(outbox)
        self.delivery = delivery
        self.interval = interval
        self.retry_delays = tuple(retry_delays)
        self.now = now or (lambda: datetime.fromtimestamp(reactor.seconds(), timezone.utc))
        self.producers: dict = {}
        self._loop: LoopingCall | None = None
        self._ticking = None

    def register(self, kind: str, produce) -> None:
        """Let schedules of ``kind`` run: ``produce(schedule, due_at, directory)`` writes
        the run's files into ``directory`` and returns their paths (runs in a thread)."""
        self.producers[kind] = produce

    def _thread(self, function, *args, **kwargs):
        return deferToThreadPool(self.reactor, self.pool, function, *args, **kwargs)

    # -- the loop ----------------------------------------------------------------------
    def start(self):
        """Tick now and every ``interval`` seconds; runs a stopped gateway left "running"
        are retried at once."""
        self._thread(self._recover).addErrback(lambda failure: log.failure("recovering schedule runs", failure))
        self._loop = LoopingCall(self.tick)
        self._loop.clock = self.reactor
        return self._loop.start(self.interval, now=True).addErrback(
            lambda failure: log.failure("the scheduler stopped", failure))

    def _recover(self):
        for run in self.book.interrupted():
            self.book.record(run.id, status="retrying", attempts=run.attempts, pending=run.pending,
                             error=run.error or "interrupted: the gateway stopped during the run",
                             next_attempt_at=self.now())

    def stop(self):
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        return self._ticking

    def tick(self):
        """One pass: start what is due, retry what waits. A tick still running when the
        next is due is not doubled (LoopingCall waits for the returned Deferred)."""
        self._ticking = self._tick()
        return self._ticking

    @inlineCallbacks
    def _tick(self):
        now = self.now()
        try:
            due = yield self._thread(self.book.due, now)
            for schedule in due:
                following = jittered(next_run(schedule.cadence, max(now, schedule.next_run_at), self.tz),
                                     schedule.params)
                run = yield self._thread(self.book.claim, schedule, following, now=now)
                if run is not None:
                    yield self._start(schedule, run)
            retries = yield self._thread(self.book.retries_due, now)
            for run, schedule in retries:
                claimed = yield self._thread(self.book.claim_retry, run, now=now)
                if claimed:
                    yield self._deliver(schedule, run, self._files(run))
        except Exception as exc:  # noqa: BLE001 - a broken database must not stop the loop
            log.failure("scheduler tick failed: {error}", error=exc)

    def _files(self, run) -> list[Path]:
        return sorted(path for path in (self.outbox / str(run.id)).glob("*") if path.is_file())

    @inlineCallbacks
    def _start(self, schedule, run):
        produce = self.producers.get(schedule.kind)
        directory = self.outbox / str(run.id)
        if produce is None:
            yield self._record_failure(schedule, run, run.pending, f"no producer for kind {schedule.kind!r}",
                                       final=True)
            return
        log.info("schedule {name}: run {run} (due {due}) started", name=schedule.name, run=run.id,
                 due=run.due_at.astimezone(self.tz).isoformat())
        try:
            directory.mkdir(parents=True, exist_ok=True)
            files = yield self._thread(produce, schedule, run.due_at, directory)
        except Exception as exc:  # noqa: BLE001
            shutil.rmtree(directory, ignore_errors=True)
            yield self._record_failure(schedule, run, run.pending, f"producing failed: {exc}", final=False)
            return
        yield self._deliver(schedule, run, [Path(f) for f in files])

    @inlineCallbacks
    def _deliver(self, schedule, run, files):
        attempts = run.attempts + 1
        pending = list(run.pending)
        if not files and schedule.kind in self.producers:
            # Produce again (the outbox was lost, or producing failed last time).
            directory = self.outbox / str(run.id)
            try:
                directory.mkdir(parents=True, exist_ok=True)
                files = [Path(f) for f in (yield self._thread(self.producers[schedule.kind], schedule, run.due_at,
                                                             directory))]
            except Exception as exc:  # noqa: BLE001
                yield self._record_failure(schedule, run, pending, f"producing failed: {exc}", attempts=attempts)
                return
        outcomes = yield DeferredList([maybeDeferred(self._deliver_one, schedule, url, files) for url in pending],
                                      consumeErrors=True)
        failed, errors = [], []
        for url, (ok, result) in zip(pending, outcomes):
            if ok:
                log.info("schedule {name}: run {run} delivered {files} to {to}", name=schedule.name, run=run.id,
                         files=", ".join(f.name for f in files), to=url)
            else:
                failed.append(url)
                problem = result.value.problem if isinstance(result.value, DestinationError) else \
                    result.getErrorMessage() or result.type.__name__
                errors.append(f"{url}: {problem}")
        output = ", ".join(f.name for f in files)
        if not failed:
            yield self._thread(self.book.record, run.id, status="delivered", attempts=attempts, pending=[],
                               output=output, finished_at=self.now())
            shutil.rmtree(self.outbox / str(run.id), ignore_errors=True)
            return
        yield self._record_failure(schedule, run, failed, "; ".join(errors), attempts=attempts, output=output)

    @inlineCallbacks
    def _record_failure(self, schedule, run, pending, error, *, attempts=None, output=None, final=False):
        attempts = run.attempts + 1 if attempts is None else attempts
        if final or attempts > len(self.retry_delays):
            log.error("schedule {name}: run {run} failed after {attempts} attempt(s): {error}", name=schedule.name,
                      run=run.id, attempts=attempts, error=error)
            yield self._thread(self.book.record, run.id, status="failed", attempts=attempts, pending=pending,
                               error=error, output=output, finished_at=self.now())
            return
        retry_at = self.now() + timedelta(seconds=self.retry_delays[attempts - 1])
        log.warn("schedule {name}: run {run} attempt {attempts} failed, retrying at {retry}: {error}",
                 name=schedule.name, run=run.id, attempts=attempts, retry=retry_at.astimezone(self.tz).isoformat(),
                 error=error)
        yield self._thread(self.book.record, run.id, status="retrying", attempts=attempts, pending=pending,
                           error=error, output=output, next_attempt_at=retry_at)

    def _deliver_one(self, schedule, url, files):
        destination = parse_destination(url)
        delivery = self.delivery
        if destination.scheme == "mailto":
            if delivery.send is None:
                raise DestinationError(url, "no mail relay configured ([mail] host)")
            message = mail_message(destination, files, subject=f"Printgate: {schedule.name}",
                                   text=f"{schedule.name}: {', '.join(f.name for f in files)} attached.\n",
                                   mail_from=delivery.mail_from)
            return delivery.send(message)
        if destination.scheme == "file":
            return self._thread(deliver_to_directory, destination, files)
        if destination.scheme == "sftp":
            return self._thread(lambda: deliver_by_sftp(destination, files, known_hosts=delivery.known_hosts,
                                                        password=delivery.password(destination),
                                                        timeout=delivery.timeout))
        if destination.scheme == "smb":
            return self._thread(lambda: deliver_by_smb(destination, files, password=delivery.password(destination),
                                                       timeout=delivery.timeout))
        raise DestinationError(url, "unknown destination")


# -- the two kinds the finance issue brings (issue 17 adds fleet-export: gateway.fleet_export) -------------------------------------------------------

def report_producer(core, tz: ZoneInfo):
    """``kind = "report"``: params ``report``, ``format``, ``by``, ``bucket``, ``period``
    (previous-day/-week/-month), ``bom``."""
    def produce(schedule, due_at, directory):
        params = schedule.params
        first, end = report_period_before(due_at, params.get("period", "previous-month"), tz)
        period = report_period(first.isoformat(), end.isoformat(), tz)
        table = build_table(core.reports, params["report"], period, by=tuple(params.get("by", ["cost-center"])),
                            bucket=params.get("bucket", "day"))
        name = f"{schedule.name}-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}{SUFFIXES[params['format']]}"
        return [write_report_file(table, params["format"], Path(directory) / name, bom=params.get("bom", False))]

    return produce


def backup_producer(database, config_file=None):
    """``kind = "backup"``: a consistent snapshot of the database (``printgate backup``),
    delivered as one tar file ``printgate-backup-YYYYmmdd-HHMM.tar`` holding the
    backup directory (restore: untar, then ``printgate backup --restore-from DIR``)."""
    def produce(schedule, due_at, directory):
        stamp = due_at.strftime("%Y%m%d-%H%M")
        folder = Path(directory) / "work" / f"printgate-backup-{stamp}"
        backup_database(database, folder, config_file=config_file)
        archive = Path(directory) / f"printgate-backup-{stamp}.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(folder, arcname=folder.name)
        shutil.rmtree(Path(directory) / "work")
        return [archive]

    return produce
