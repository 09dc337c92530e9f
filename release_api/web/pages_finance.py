"""Finance's pages (admins see them too): accounts with their ledgers, top-ups and
adjustments (a reason always), the whole ledger, the audit log with filters, and the
reports page.

Reports and exports are issue 15's (``accounting/reports*``, ``gateway/reports/``), asked
through the declared ``ReportDesk`` (``release_api.web.services``; the gateway's is
``gateway.web_reports``): finance picks a report (the chargeback by one or two groupings,
the job log, the policy report, usage by day, week or month), a period of local days in
the gateway's time zone (closed months are marked closed) and a format; the download is
a GET that changes nothing (a link can be kept), written to the access log, and streamed
from a temporary file as it is read. Without a desk the page says so.
"""
from __future__ import annotations

from calendar import monthrange
from datetime import date
from urllib.parse import quote

from twisted.internet import defer

from accounting.money import format_amount, parse_amount
from accounting.reports import ReportError
from release_api.web.app import BadFilter, Call, Download, FileDownload, Redirect
from release_api.web.pages_admin import list_options, parse_day, day_after
from release_api.web.routing import FINANCE, route


class FinancePages:
    reports = None  # the ReportDesk (WebSite(reports=...)); None: the page says reports are not offered

    @route("/finance/", access=FINANCE)
    @defer.inlineCallbacks
    def finance_home(self, call: Call):
        board = yield defer.maybeDeferred(self.administration.dashboard)
        accounts = yield defer.maybeDeferred(self.administration.accounts, "shared")
        return self.page(call, "finance_home.html", board=board, accounts=list(accounts))

    @route("/finance/accounts", access=FINANCE)
    @defer.inlineCallbacks
    def accounts(self, call: Call):
        filters = list_options(call, ("kind", "search"))
        filters["kind"] = filters["kind"] if filters["kind"] in ("personal", "shared") else "shared"
        page = yield defer.maybeDeferred(self.administration.account_list, kind=filters["kind"],
                                         search=filters["search"], after=call.arg("after", limit=512),
                                         before=call.arg("before", limit=512))
        return self.page(call, "finance_accounts.html", accounts=page.rows, page=page, filters=filters,
                         kind=filters["kind"])

    @route("/finance/accounts", "POST", access=FINANCE)
    @defer.inlineCallbacks
    def add_account(self, call: Call):
        name = call.field("name", limit=255)
        yield defer.maybeDeferred(self.administration.add_shared_account, call.actor, name,
                                  parent=call.field("parent", required=False) or None,
                                  restricted=call.checked("restricted"),
                                  overdraft=parse_amount(call.field("overdraft", required=False, limit=32) or "0"))
        call.session.flash = f"Shared account {name} created."
        return Redirect("/finance/accounts")

    @route("/finance/accounts/<name>", access=FINANCE)
    @defer.inlineCallbacks
    def account(self, call: Call, name: str):
        account, parent, members, page = yield defer.maybeDeferred(self.administration.account, name,
                                                                   after=call.arg("after", limit=512),
                                                                   before=call.arg("before", limit=512))
        return self.page(call, "finance_account.html", account=account, parent=parent, members=list(members),
                         page=page, filters={})

    @route("/finance/accounts/<name>", "POST", access=FINANCE)
    @defer.inlineCallbacks
    def account_action(self, call: Call, name: str):
        action = call.field("action", limit=16)
        if action in ("topup", "adjustment"):
            amount = parse_amount(call.field("amount", limit=32))
            entry = yield defer.maybeDeferred(self.administration.move_money, call.actor, name, amount,
                                              call.field("reason", limit=255), kind=action)
            done = "Topped up" if action == "topup" else "Adjusted"
            call.session.flash = f"{done}: balance now {format_amount(entry.balance_after)}."
        elif action in ("allow", "disallow"):
            if "admin" not in call.user.roles:
                raise ValueError("only an admin decides who may charge an account")
            who = call.field("who", limit=255)
            kind, _, value = who.partition(":")
            if kind not in ("user", "group") or not value:
                raise ValueError("say user:NAME or group:NAME")
            change = self.administration.allow_account if action == "allow" else self.administration.disallow_account
            yield defer.maybeDeferred(change, call.actor, name, user=value if kind == "user" else None,
                                      group=value if kind == "group" else None)
            call.session.flash = f"{who} may {'' if action == 'allow' else 'no longer '}charge {name}."
        elif action == "configure":
            if "admin" not in call.user.roles:
                raise ValueError("only an admin changes an account's limits")
            overdraft = parse_amount(call.field("overdraft", required=False, limit=32) or "0")
            if overdraft < 0:
                raise ValueError("an overdraft limit is zero or more")
            yield defer.maybeDeferred(self.administration.configure_account, call.actor, name,
                                      restricted=call.checked("restricted"), overdraft=overdraft,
                                      enabled=call.checked("enabled"))
            call.session.flash = f"{name} saved."
        else:
            raise ValueError(f"unknown action {action!r}")
        return Redirect(f"/finance/accounts/{quote(name, safe='')}")

    @route("/finance/ledger", access=FINANCE)
    @defer.inlineCallbacks
    def ledger(self, call: Call):
        filters = list_options(call, ("kind", "since", "until"))
        page = yield defer.maybeDeferred(self.administration.ledger, kind=filters["kind"],
                                         since=parse_day(filters["since"]), until=day_after(parse_day(filters["until"])),
                                         after=call.arg("after", limit=512), before=call.arg("before", limit=512))
        return self.page(call, "finance_ledger.html", page=page, filters=filters)

    @route("/finance/ledger.csv", access=FINANCE)
    @defer.inlineCallbacks
    def ledger_export(self, call: Call):
        """The filtered ledger, oldest first, as a CSV file (at most 200,000 entries)."""
        filters = list_options(call, ("kind", "since", "until"))
        body = yield defer.maybeDeferred(self.administration.ledger_export, kind=filters["kind"],
                                         since=parse_day(filters["since"]),
                                         until=day_after(parse_day(filters["until"])))
        period = "-".join(filter(None, (filters["since"], filters["until"]))) or "all"
        yield self.record(call, "privilege", f"export of the ledger {period} {filters['kind'] or 'all kinds'}"[:255])
        return Download(body, "text/csv; charset=utf-8", f"ledger-{_file_part(period)}.csv")

    @route("/finance/audit", access=FINANCE)
    @defer.inlineCallbacks
    def audit(self, call: Call):
        filters = list_options(call, ("actor", "action", "target", "since", "until"))
        page = yield defer.maybeDeferred(self.administration.audit, actor=filters["actor"], action=filters["action"],
                                         target=filters["target"], since=parse_day(filters["since"]),
                                         until=day_after(parse_day(filters["until"])),
                                         after=call.arg("after", limit=512), before=call.arg("before", limit=512))
        return self.page(call, "finance_audit.html", page=page, filters=filters)

    @route("/finance/reports", access=FINANCE)
    @defer.inlineCallbacks
    def report_list(self, call: Call):
        if self.reports is None:
            return self.page(call, "finance_reports.html", menu=None)
        menu = yield defer.maybeDeferred(self.reports.available)
        choice = {name: call.arg(name, limit=32) or "" for name in REPORT_FIELDS}
        closed = {month.period: month for month in menu.closed}
        first_of_month = menu.today.replace(day=1)
        choice["since"] = choice["since"] or _month_before(first_of_month).isoformat()
        choice["until"] = choice["until"] or _month_end(_month_before(first_of_month)).isoformat()
        months = []
        month = first_of_month
        for _ in range(RECENT_MONTHS):
            months.append((month, _month_end(month), closed.get(f"{month:%Y-%m}")))
            month = _month_before(month)
        older = [c for c in menu.closed if c.period < f"{months[-1][0]:%Y-%m}"]
        chosen_closed = [c.period for c in menu.closed
                         if c.period[:7] >= choice["since"][:7] and c.period[:7] <= choice["until"][:7]]
        return self.page(call, "finance_reports.html", menu=menu, choice=choice, months=months, older=older,
                         chosen_closed=chosen_closed)

    @route("/finance/reports/export", access=FINANCE)
    @defer.inlineCallbacks
    def report_export(self, call: Call):
        """The chosen report as a file. A GET: it changes nothing but the access log."""
        if self.reports is None:
            raise BadFilter("reports are not offered on this gateway")
        name = call.arg("report", limit=32) or ""
        fmt = call.arg("format", "csv", limit=8)
        since, until = _local_day(call.arg("since"), "from"), _local_day(call.arg("until"), "until")
        if until < since:
            raise BadFilter(f"the period ends ({until}) before it starts ({since})")
        by = tuple(part for part in (call.arg("by", "cost-center", limit=32), call.arg("then", limit=32)) if part)
        bucket = call.arg("bucket", "day", limit=8)
        idle = _idle_timeout_off(call.request)
        try:
            made = yield defer.maybeDeferred(self.reports.export, name, since=since, until=until, fmt=fmt, by=by,
                                             bucket=bucket)
        except (ReportError, ValueError) as error:
            raise BadFilter(str(error)) from None
        finally:
            _idle_timeout_on(call.request, idle)
        shape = f" by {','.join(by)}" if name == "chargeback" else f" by {bucket}" if name == "usage" else ""
        yield self.record(call, "privilege", f"export of the {name} report{shape} {since}..{until} {fmt}"[:255])
        return FileDownload(made.handle, made.content_type, made.filename)


#: How many months (this one included) the page lists with their state; closed months
#: before them are named below the list.
RECENT_MONTHS = 6
#: The reports form's fields, as the page echoes them back.
REPORT_FIELDS = ("report", "by", "then", "bucket", "since", "until", "format")


def _idle_timeout_off(request):
    """A long report is made before its first byte is sent: the connection's idle
    timeout (no byte either way for ``server.IDLE_SECONDS``) must not close it meanwhile.
    Returns what to put back (HTTP/1.1's channel; an HTTP/2 stream has no such timer)."""
    channel = getattr(request, "channel", None)
    set_timeout = getattr(channel, "setTimeout", None)
    return (set_timeout, set_timeout(None)) if set_timeout is not None else None


def _idle_timeout_on(request, saved) -> None:
    if saved is not None:
        set_timeout, period = saved
        set_timeout(period)


def _local_day(text: str | None, what: str) -> date:
    """A local calendar day ``YYYY-MM-DD`` (in the gateway's zone: the report makes it a
    time span), required."""
    if not text:
        raise BadFilter(f"say the day the period runs {what} (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"not a date: {text[:40]!r} (YYYY-MM-DD)") from None


def _month_before(first: date) -> date:
    return date(first.year - 1, 12, 1) if first.month == 1 else date(first.year, first.month - 1, 1)


def _month_end(first: date) -> date:
    return first.replace(day=monthrange(first.year, first.month)[1])


def _file_part(text: str) -> str:
    """Only what is safe in a Content-Disposition file name."""
    return "".join(c for c in text if c.isalnum() or c in "-_")[:64] or "all"
