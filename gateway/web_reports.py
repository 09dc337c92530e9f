"""Run a finance report for the web pages: issue 15's reports (``gateway.reports``, the
very code ``printgate report`` and the schedules run), answered as ``release_api.web``'s
``ReportDesk``.

The work runs in the reactor's thread pool: the table's rows stream from the database
into the writer, which writes a nameless temporary file (``O_TMPFILE``: nothing is left
behind whatever happens) in the data directory's ``web-reports`` folder, never the
system's temporary directory, which may be memory. The page then sends the file as it is
read. At most ``concurrent`` reports are made at a time (the rest wait their turn), so
finance cannot take every thread the printers' panels need.
"""
from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from twisted.internet import defer, threads

from accounting.private_files import private_directory
from accounting.reports import BUCKETS, GROUPINGS, parse_grouping
from gateway.reports.produce import FORMATS, SUFFIXES, write_report_stream
from gateway.reports.tables import build_table
from release_api.web.services import ClosedMonth, ReportFile, ReportMenu

#: What each report shows, in the order the page lists them.
REPORTS = (
    ("chargeback", "Money and pages per cost center, account, user, group, device, queue or price list "
                   "(one or two levels)"),
    ("jobs", "The job log: every job that ended, and every job refused"),
    ("policy", "Every refused or changed job and the rule that did it"),
    ("usage", "Pages and money per printer by day, week or month"),
)
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "pdf": "application/pdf"}


class GatewayReportDesk:
    def __init__(self, core, *, reactor, scratch: Path, threadpool=None, concurrent: int = 2):
        """``core``: the ``AccountingCore``; ``scratch``: where report files are made
        (created 0700)."""
        self.core = core
        self.reactor = reactor
        self.threadpool = threadpool if threadpool is not None else reactor.getThreadPool()
        self.scratch = Path(scratch)
        self.turns = defer.DeferredSemaphore(concurrent)

    def _run(self, function, *args, **kwargs) -> defer.Deferred:
        return threads.deferToThreadPool(self.reactor, self.threadpool, function, *args, **kwargs)

    def available(self):
        def read():
            tz = self.core.reports.tz
            closed = tuple(ClosedMonth(p.period, p.closed_at, p.closed_by) for p in self.core.periods.list())
            return ReportMenu(reports=REPORTS, groupings=tuple(GROUPINGS), buckets=BUCKETS, formats=FORMATS,
                              timezone=tz.key, today=datetime.now(timezone.utc).astimezone(tz).date(), closed=closed)
        return self._run(read)

    def export(self, name, *, since, until, fmt, by=("cost-center",), bucket="day"):
        if name not in dict(REPORTS):
            return defer.fail(ValueError(f"unknown report {name!r}; choose from {', '.join(dict(REPORTS))}"))
        if fmt not in FORMATS:
            return defer.fail(ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}"))
        if bucket not in BUCKETS:
            return defer.fail(ValueError(f"unknown bucket {bucket!r}; choose from {', '.join(BUCKETS)}"))
        return self.turns.run(self._run, self._write, name, since, until, fmt, tuple(by), bucket)

    def _write(self, name, since, until, fmt, by, bucket) -> ReportFile:
        by = parse_grouping(by) if name == "chargeback" else ("cost-center",)
        period = self.core.reports.period(since.isoformat(), (until + timedelta(days=1)).isoformat())
        table = build_table(self.core.reports, name, period, by=by, bucket=bucket)
        private_directory(self.scratch)
        handle = tempfile.TemporaryFile(dir=self.scratch)
        try:
            counted = []
            write_report_stream(table, fmt, handle, progress=counted.append, scratch=self.scratch)
            size = handle.tell()
            handle.seek(0)
        except BaseException:
            handle.close()
            raise
        detail = "-".join(by) if name == "chargeback" else bucket if name == "usage" else ""
        filename = "-".join(filter(None, (name, detail, f"{period.first_day:%Y%m%d}", f"{period.last_day:%Y%m%d}")))
        return ReportFile(handle=handle, size=size, content_type=CONTENT_TYPES[fmt], filename=filename + SUFFIXES[fmt],
                          title=table.title, period=period.label(), rows=counted[-1] if counted else None)
