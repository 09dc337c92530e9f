"""Finance's pages (admins see them too): accounts with their ledgers, top-ups and
adjustments (a reason always), the whole ledger, the audit log with filters, and the
reports page.

Reports and exports are issue 15's (``accounting/reports*``, ``gateway/reports/``),
built on another branch: ``ReportDesk`` is the one place they plug in. Until a desk is
given, the reports page says so and lists nothing it cannot produce.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable
from urllib.parse import quote

from twisted.internet import defer

from accounting.money import format_amount, parse_amount
from release_api.web.app import Call, Download, NotFound, Redirect
from release_api.web.pages_admin import list_options, parse_day, day_after
from release_api.web.routing import FINANCE, route


@runtime_checkable
class ReportDesk(Protocol):
    """What the reports page needs from issue 15's report use case."""

    def available(self) -> Sequence[tuple[str, str]]:
        """(report name, what it shows), e.g. ("chargeback-cost-center", "Money per cost center")."""

    def export(self, name: str, *, since, until, fmt: str) -> tuple[bytes, str, str] | defer.Deferred:
        """(body, content type, file name) of a report for the period, as CSV/XLSX/PDF."""


class FinancePages:
    reports = None  # a ReportDesk once issue 15 lands (WebSite(reports=...))

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
    def report_list(self, call: Call):
        reports = list(self.reports.available()) if self.reports is not None else None
        return self.page(call, "finance_reports.html", reports=reports)

    @route("/finance/reports/<name>", access=FINANCE)
    @defer.inlineCallbacks
    def report_export(self, call: Call, name: str):
        if self.reports is None or name not in dict(self.reports.available()):
            raise NotFound(name)
        fmt = call.arg("format", "csv")
        body, content_type, filename = yield defer.maybeDeferred(
            self.reports.export, name, since=parse_day(call.arg("since")), until=day_after(parse_day(call.arg("until"))),
            fmt=fmt)
        return Download(body, content_type, filename)


def _file_part(text: str) -> str:
    """Only what is safe in a Content-Disposition file name."""
    return "".join(c for c in text if c.isalnum() or c in "-_")[:64] or "all"
