"""The notices the gateway mails, rendered from Jinja2 templates (``templates/<language>/
<notice>.j2``: a subject, a plain-text body and an HTML body; times in the configured
zone) and handed to the one sender.

A notice goes out when it is on in ``[notices]`` and its user has not turned it off
(``printgate users notices``), to the address accounting has. Notices are best effort:
every method returns a Deferred that never fails (True when the message was queued),
and nothing waits for them.
"""
from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import jinja2
from twisted.internet.defer import gatherResults, inlineCallbacks, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from accounting.money import format_amount
from accounting.time import utcnow, zone

log = Logger()

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = tuple(sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir()))
FOOTER = {"en": "Sent by Printgate. You can turn this kind of message off with your administrator.",
          "de": "Gesendet von Printgate. Diese Art von Nachricht kann Ihr Administrator abschalten."}


class NoticeRenderer:
    """Renders one notice in one language: ``(subject, text, html)``."""

    def __init__(self, language: str = "en", timezone: str | None = None, currency: str = ""):
        if language not in LANGUAGES:
            raise ValueError(f"no notice templates for language {language!r} (have {', '.join(LANGUAGES)})")
        self.language = language
        self.zone = zone(timezone)  # None: the machine's
        self.currency = currency
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(TEMPLATES / language), jinja2.FileSystemLoader(TEMPLATES)])
        self.text_env = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined)
        self.html_env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)

    def when(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def money(self, amount: int) -> str:
        return f"{format_amount(amount)} {self.currency}".strip()

    def render(self, notice: str, **values) -> tuple[str, str, str]:
        values = {"when": self.when, "money": self.money, "language": self.language,
                  "footer": FOOTER.get(self.language, FOOTER["en"]), **values}
        text_template = self.text_env.get_template(f"{notice}.j2")
        context = text_template.new_context(values)
        subject = " ".join("".join(text_template.blocks["subject"](context)).split())[:200]
        text = "".join(text_template.blocks["text"](context)).strip() + "\n\n" + values["footer"] + "\n"
        html = self.html_env.get_template(f"{notice}.j2").render(subject=subject, **values)
        return subject, text, html


class Notices:
    def __init__(self, reactor, sender, accounting, config, *, timezone: str | None = None, threadpool=None):
        """``sender``: ``gateway.mail.sender.MailSender``; ``accounting``: an
        ``AccountingService``; ``config``: ``spooler.config.NoticesConfig``."""
        self.reactor = reactor
        self.sender = sender
        self.accounting = accounting
        self.config = config
        self.threadpool = threadpool if threadpool is not None else reactor.getThreadPool()
        self.renderer = NoticeRenderer(config.language, timezone)

    def _thread(self, function, *args, **kwargs):
        return deferToThreadPool(self.reactor, self.threadpool, function, *args, **kwargs)

    def enabled(self, notice: str) -> bool:
        return bool(self.config.enabled.get(notice)) and self.sender is not None and self.sender.configured

    def tells_admins(self, notice: str) -> bool:
        """Whether ``notice`` would reach anyone in ``[notices] admins``."""
        return bool(self.config.admins) and self.enabled(notice)

    def message(self, notice: str, to: str, **values) -> EmailMessage:
        subject, text, html = self.renderer.render(notice, **values)
        message = EmailMessage()
        message["To"] = to
        message["Subject"] = subject
        message["Auto-Submitted"] = "auto-generated"
        message["X-Printgate-Notice"] = notice
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    @inlineCallbacks
    def to_user(self, notice: str, username: str, **values):
        """Mail ``notice`` to ``username`` if it is on for them. Never fails."""
        if not self.enabled(notice):
            return False
        try:
            recipient = yield self._thread(self.accounting.core.notices.recipient, username, notice)
            if recipient is None:
                log.debug("notice {notice} for {user} not sent: no address, or turned off", notice=notice,
                          user=username)
                return False
            yield self.sender.send(self.message(notice, recipient.email, user=recipient, **values))
        except Exception as exc:  # noqa: BLE001 - a notice never breaks what it reports on
            log.warn("notice {notice} for {user} not sent: {error}", notice=notice, user=username, error=str(exc))
            return False
        return True

    @inlineCallbacks
    def to_address(self, notice: str, address: str, **values):
        if not self.enabled(notice):
            return False
        try:
            yield self.sender.send(self.message(notice, address, **values))
        except Exception as exc:  # noqa: BLE001
            log.warn("notice {notice} to {to} not sent: {error}", notice=notice, to=address, error=str(exc))
            return False
        return True

    # -- the occasions --------------------------------------------------------------------
    def job_held(self, job):
        price = self.renderer.money(job.price_estimate) if job.price_estimate else ""
        return self.to_user("job_held", job.owner, job=job, price=price)

    def job_changed(self, job):
        changes = ", ".join(_change_words(job.decision_changes or {}))
        return self.to_user("job_changed", job.owner, job=job, changes=changes, rule=job.decision_rule or "",
                            message=job.decision_message or "")

    def job_refused(self, new_job, decision):
        return self.to_user("job_refused", new_job.owner, job=new_job, rule=decision.rule, message=decision.message)

    def job_expiring(self, job, expires):
        return self.to_user("job_expiring", job.owner, job=job, expires=expires)

    def job_expired(self, job):
        return self.to_user("job_expired", job.owner, job=job)

    def release_failed(self, job, device: str, reason: str):
        return self.to_user("release_failed", job.owner, job=job, device=device, reason=reason)

    def balance_low(self, low):
        return self.to_user("balance_low", low.username, low=low)

    def quota_nearly_used(self, quota):
        return self.to_user("quota_nearly_used", quota.username, quota=quota)

    def printer_alert(self, device: str, kind: str, message: str, *, location: str = "", at: datetime | None = None):
        """For the fleet (``gateway.fleet_alerts``): a printer in error or warning (a
        supply running low), to every address in ``[notices] admins``. Returns a Deferred
        firing with how many were queued."""
        if not self.config.admins:
            return succeed(0)
        results = [self.to_address("printer_alert", admin, device=device, kind=kind, message=message,
                                   location=location, at=at or utcnow()) for admin in self.config.admins]
        return gatherResults(results).addCallback(sum)

    def scheduled_report(self, to: str, title: str, text: str, attachments=()):
        """For scheduled reports (issue 15): ``attachments`` are ``(filename, bytes,
        maintype, subtype)``. Goes through the same queue as every notice."""
        if not self.enabled("scheduled_report"):
            return succeed(False)
        message = self.message("scheduled_report", to, title=title, text=text)
        for filename, data, maintype, subtype in attachments:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        return self.sender.send(message).addCallbacks(lambda _: True, lambda f: False)


def _change_words(changes: dict) -> list[str]:
    words = []
    if changes.get("mono"):
        words.append("black and white")
    if changes.get("duplex"):
        words.append("two-sided")
    if changes.get("copies"):
        words.append(f"at most {changes['copies']} copies")
    return words
