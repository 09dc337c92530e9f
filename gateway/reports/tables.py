"""Each report as a table: named, typed columns and a stream of rows, so that every
format writes every report the same way. Money stays integer minor units here; the
writers format it (text in CSV, numbers with the currency's format in XLSX)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Iterator

from accounting.reports import GROUPINGS, ChargebackRow, ReportPeriod

#: Column kinds the writers know: text, int, money (minor units), datetime, date, bool,
#: percent (a 0..1 ratio).
KINDS = ("text", "int", "money", "datetime", "date", "bool", "percent")
REPORTS = ("chargeback", "jobs", "policy", "usage")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"
    width: float = 1.0  # relative width in a PDF table


@dataclass
class ReportTable:
    """A report ready to write. ``rows`` is consumed once; ``totals()`` is the totals row
    (None for reports without one), valid after the rows are consumed. ``charts`` holds
    series for the PDF (computed on demand, small). ``count()`` is how many rows there
    will be, for a progress bar (None when unknown)."""

    report: str
    title: str
    period: ReportPeriod
    currency: str
    columns: list[Column]
    rows: Iterator[tuple]
    totals: Callable[[], tuple | None] = lambda: None
    charts: Callable[[], dict] = dict
    count: Callable[[], int | None] = lambda: None
    notes: list[str] = field(default_factory=list)
    #: The same rows with their datetimes as local text ``YYYY-MM-DD HH:MM:SS``, when the
    #: report can make them cheaper that way (the CSV writer's choice); None: use ``rows``.
    text_rows: Callable[[], Iterator[tuple]] | None = None
    #: Key figures for a PDF cover, computed by their own (small) queries before the rows
    #: are read: name -> int, text, or ("money", minor units).
    summary: Callable[[], dict] = dict


def _group_title(name: str) -> str:
    return {"cost-center": "Cost center", "price-list": "Price list"}.get(name, name.capitalize())


CHARGEBACK_FIGURES = [
    Column("Jobs", "int", 0.7), Column("Pages", "int", 0.7), Column("Impressions", "int", 0.9),
    Column("Sheets", "int", 0.7), Column("Colour impressions", "int", 0.9), Column("Mono impressions", "int", 0.9),
    Column("Duplex share", "percent", 0.7), Column("Charged", "money", 0.9), Column("Refunds", "money", 0.9),
    Column("Adjustments", "money", 0.9), Column("Net", "money", 0.9),
]


def _chargeback_cells(row: ChargebackRow) -> tuple:
    return (*row.keys, row.jobs, row.pages, row.impressions, row.sheets, row.color_impressions,
            row.mono_impressions, row.duplex_share, row.charged, row.refunds, row.adjustments, row.net)


def _closed_notes(reports, period) -> list[str]:
    return [f"{closed.period} is closed (since {closed.closed_at:%Y-%m-%d}, by {closed.closed_by}): its figures "
            "cannot change" for closed in reports.closed_within(period)]


def _summary(total: ChargebackRow) -> dict:
    return {"Jobs printed": total.jobs, "Pages": total.pages, "Impressions": total.impressions,
            "Sheets": total.sheets, "Colour impressions": total.color_impressions,
            "Duplex share": f"{total.duplex_share * 100:.1f} %", "Charged": ("money", total.charged),
            "Refunds": ("money", total.refunds), "Adjustments": ("money", total.adjustments),
            "Net": ("money", total.net)}


def chargeback_summary(reports, period: ReportPeriod) -> dict:
    total = ChargebackRow(keys=())
    for row in reports.chargeback(period, ("cost-center",)):
        total.add(row)
    return _summary(total)


def chargeback_table(reports, period: ReportPeriod, by: tuple[str, ...]) -> ReportTable:
    """The chargeback's rows are one per group (people, cost centers: thousands, not
    millions), so a writer that needs figures before the rows (the PDF's cover and
    charts) gets them from one pass over the ledger, kept, instead of a pass each."""
    total = ChargebackRow(keys=("Total",) + ("",) * (len(by) - 1))
    kept: list = []

    def grouped():
        if not kept:
            kept.append(list(reports.chargeback(period, by)))
        return kept[0]

    def rows():
        source = kept[0] if kept else reports.chargeback(period, by)
        for row in source:
            total.add(row)
            yield _chargeback_cells(row)

    def summary():
        whole = ChargebackRow(keys=())
        for row in grouped():
            whole.add(row)
        return _summary(whole)

    def charts():
        over_time = _over_time(reports, period, _bucket_for(period))
        centers: dict = {}
        if by[0] == "cost-center":
            for row in grouped():
                centers[row.keys[0]] = centers.get(row.keys[0], 0) + row.net
        else:
            centers = {row.keys[0]: row.net for row in reports.chargeback(period, ("cost-center",))}
        top = sorted(centers.items(), key=lambda item: (-item[1], item[0]))[:10]
        return {"over_time": over_time, "top": [(name or "(none)", net) for name, net in top],
                "top_label": "Top cost centers by net charge"}

    return ReportTable(
        report="chargeback", title=f"Chargeback by {' and '.join(_group_title(n).lower() for n in by)}",
        period=period, currency=reports.currency(),
        columns=[Column(_group_title(name), "text", 1.6) for name in by] + CHARGEBACK_FIGURES,
        rows=rows(), totals=lambda: _chargeback_cells(total), charts=charts,
        notes=_closed_notes(reports, period), summary=summary)


def _over_time(reports, period: ReportPeriod, bucket: str) -> list[tuple]:
    """(bucket start, net, pages) for every bucket of the period, quiet ones as zero."""
    found = {r.bucket: (r.net, r.pages) for r in reports.usage(period, bucket=bucket, by_device=False)}
    series = []
    day = period.first_day
    while day <= period.last_day:
        start = _start_of(day, bucket)
        if not series or series[-1][0] != start:
            series.append((start, *found.get(start, (0, 0))))
        day += timedelta(days=1)
    return series


def _start_of(day, bucket: str):
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def _bucket_for(period: ReportPeriod) -> str:
    days = (period.last_day - period.first_day).days + 1
    return "day" if days <= 62 else "week" if days <= 366 else "month"


JOB_LOG_COLUMNS = [
    Column("Job", "int", 1.0), Column("Name", "text", 2.0), Column("Submitted", "datetime", 1.3),
    Column("Completed", "datetime", 1.3), Column("Device", "text"), Column("Queue", "text"),
    Column("Result", "text", 1.2), Column("Pages", "int", 0.6), Column("Impressions", "int", 0.8),
    Column("Sheets", "int", 0.6), Column("Colour pages", "int", 0.7), Column("Duplex", "bool", 0.6),
    Column("Media", "text", 0.6), Column("Copies", "int", 0.6), Column("Price", "money", 0.8),
    Column("Account", "text"), Column("User", "text"), Column("Workstation", "text"),
    Column("Protocol", "text", 0.6), Column("Rule", "text"), Column("Rule changes", "text"),
]


def job_log_table(reports, period: ReportPeriod) -> ReportTable:
    totals = {"jobs": 0, "price": 0}

    def rows(text_times=False):
        jobs = price = 0
        try:
            for row in reports.job_log(period, text_times=text_times):
                jobs += 1
                price += row.price  # 0 for every job not printed
                yield row
        finally:
            totals.update(jobs=jobs, price=price)

    def total_row():
        cells = [None] * len(JOB_LOG_COLUMNS)
        cells[1] = f"Total: {totals['jobs']} jobs"
        cells[14] = totals["price"]
        return tuple(cells)

    return ReportTable(report="jobs", title="Job log", period=period, currency=reports.currency(),
                       columns=JOB_LOG_COLUMNS, rows=rows(), totals=total_row,
                       count=lambda: reports.job_log_count(period), notes=_closed_notes(reports, period),
                       summary=lambda: _job_log_summary(reports, period), text_rows=lambda: rows(text_times=True))


def _job_log_summary(reports, period: ReportPeriod) -> dict:
    figures = reports.job_log_summary(period)
    return {**{f"Jobs {result}": count for result, count in figures["results"].items()},
            "Impressions printed": figures["pages"], "Charged": ("money", figures["charged"])}


POLICY_COLUMNS = [
    Column("Time", "datetime", 1.3), Column("Workstation", "text"), Column("Server", "text"), Column("Queue", "text"),
    Column("Document", "text", 2.0), Column("User", "text"), Column("Duplex", "bool", 0.6),
    Column("Colour", "bool", 0.6), Column("Impressions", "int", 0.8), Column("Price", "money", 0.8),
    Column("Action", "text", 0.7), Column("Notified", "bool", 0.6), Column("Message", "text", 2.4),
    Column("Rule", "text"), Column("Changes", "text"),
]


def policy_table(reports, period: ReportPeriod) -> ReportTable:
    return ReportTable(report="policy", title="Policy report", period=period, currency=reports.currency(),
                       columns=POLICY_COLUMNS, rows=(tuple(row) for row in reports.policy_report(period)),
                       notes=_closed_notes(reports, period),
                       summary=lambda: {f"Jobs {'refused' if action == 'deny' else 'changed'}": count
                                        for action, count in reports.policy_summary(period).items()})


USAGE_COLUMNS = [
    Column("From", "date", 1.0), Column("Device", "text", 1.4), Column("Jobs", "int", 0.7),
    Column("Pages", "int", 0.7), Column("Impressions", "int", 0.9), Column("Sheets", "int", 0.7),
    Column("Colour impressions", "int", 0.9), Column("Mono impressions", "int", 0.9), Column("Net", "money", 0.9),
]


def usage_table(reports, period: ReportPeriod, bucket: str = "day") -> ReportTable:
    total = [0] * 7

    def rows():
        for row in reports.usage(period, bucket=bucket):
            for i, value in enumerate(row[2:]):
                total[i] += value
            yield tuple(row)

    def charts():
        over_time = _over_time(reports, period, bucket)
        devices: dict[str, int] = {}
        for r in reports.usage(period, bucket="month"):
            devices[r.device] = devices.get(r.device, 0) + r.net
        top = sorted(devices.items(), key=lambda item: (-item[1], item[0]))[:10]
        return {"over_time": over_time, "top": [(name or "(none)", net) for name, net in top],
                "top_label": "Top devices by net charge"}

    return ReportTable(report="usage", title=f"Usage by device and {bucket}", period=period,
                       currency=reports.currency(), columns=USAGE_COLUMNS, rows=rows(),
                       totals=lambda: (None, "Total", *total), charts=charts, notes=_closed_notes(reports, period),
                       summary=lambda: chargeback_summary(reports, period))


def build_table(reports, report: str, period: ReportPeriod, *, by=("cost-center",), bucket: str = "day") -> ReportTable:
    if report == "chargeback":
        return chargeback_table(reports, period, tuple(by))
    if report == "jobs":
        return job_log_table(reports, period)
    if report == "policy":
        return policy_table(reports, period)
    if report == "usage":
        return usage_table(reports, period, bucket)
    raise ValueError(f"unknown report {report!r}; choose from {', '.join(REPORTS)}")


__all__ = ["Column", "ReportTable", "build_table", "REPORTS", "GROUPINGS", "KINDS"]
