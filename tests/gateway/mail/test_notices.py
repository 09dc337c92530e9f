"""Notices rendered from the templates and mailed through the sender to aiosmtpd, with a
real accounting database: language and time zone, HTML beside plain text, escaping, the
triggers the gateway calls (expiring jobs, low balance, quota, release failure), the
fleet's printer alerts and finance's scheduled reports with attachments."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from twisted.internet import reactor

from gateway.mail.notices import NoticeRenderer, Notices
from gateway.notice_triggers import NoticeTriggers
from spooler.config import NoticesConfig
from tests.fixtures.global_reactor import in_reactor
from tests.fixtures.mail_world import RelayTestCase

pytestmark = pytest.mark.timeout(60)

AT = datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc)


def job(**changes):
    values = dict(id=12, owner="bob", title="<b>plan</b>.pdf", queue="secure", pages=3, price_estimate=120,
                  received_at=AT, decision_changes={"mono": True}, decision_rule="mono-only",
                  decision_message="Colour is for posters")
    values.update(changes)
    return SimpleNamespace(**values)


def test_a_notice_is_rendered_in_the_configured_language_and_time_zone():
    subject, text, html = NoticeRenderer("de", "Europe/Berlin").render("job_expiring", job=job(),
                                                                        expires=AT + timedelta(hours=1))
    assert subject == "Ihr Druckauftrag <b>plan</b>.pdf verfällt um 2026-07-01 13:00 CEST"
    assert "wird um 2026-07-01 13:00 CEST gelöscht" in text
    assert "&lt;b&gt;plan&lt;/b&gt;.pdf" in html and "<b>plan</b>" not in html, "HTML is escaped"


def test_every_notice_renders_in_every_language():
    from gateway.mail.notices import LANGUAGES
    from spooler.config import NOTICE_DEFAULTS

    values = dict(job=job(), expires=AT, price="1.20", changes="mono", rule="r", message="m", device="mfp",
                  reason="offline", low=SimpleNamespace(account="bob", balance=50, threshold=200),
                  quota=SimpleNamespace(granted=1000, balance=50), kind="toner low", location="3F", at=AT,
                  title="Monthly report", text="See attached.", user=None)
    for language in LANGUAGES:
        renderer = NoticeRenderer(language, "UTC")
        for notice in NOTICE_DEFAULTS:
            subject, text, html = renderer.render(notice, **values)
            assert subject and text.strip() and html.startswith("<!doctype html>"), (language, notice)


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="no notice templates"):
        NoticeRenderer("xx")


class NoticeMail(RelayTestCase):
    def setUp(self):
        super().setUp()
        self.core = self.accounting.core
        self.core.users.add_user("bob", email="bob@example.org", balance=100)
        self.config = NoticesConfig(admins=["ops@example.org", "lead@example.org"])
        self.notices = Notices(reactor, self.sender, self.accounting, self.config, timezone="UTC")
        self.triggers = NoticeTriggers(reactor, self.accounting, self.notices, self.config)

    @in_reactor
    async def test_a_job_changed_by_a_rule_is_told_in_text_and_html_with_the_rules_message(self):
        self.triggers.jobs_recorded([job()])
        (message,) = await self.delivered_mail(1)
        self.assertEqual(message["To"], "bob@example.org")
        self.assertEqual(message["Subject"], "Your print job <b>plan</b>.pdf was changed")
        self.assertIn("Colour is for posters", message.get_body(("plain",)).get_content())
        self.assertIn("black and white", message.get_body(("html",)).get_content())

    @in_reactor
    async def test_held_receipts_go_only_when_turned_on(self):
        self.triggers.jobs_recorded([job(decision_changes=None)])
        self.config.enabled["job_held"] = True
        self.triggers.jobs_recorded([job(decision_changes=None, title="second")])
        (message,) = await self.delivered_mail(1)
        self.assertEqual(message["Subject"], "Your print job second is waiting")

    @in_reactor
    async def test_a_print_below_the_threshold_tells_the_owner_once(self):
        account = self.core.accounts.personal("bob")
        await self.triggers.printed(job(account_id=account.id))
        await self.triggers.printed(job(account_id=account.id))
        (message,) = await self.delivered_mail(1)
        self.assertIn("Your print balance is low: 1.00", message["Subject"])

    @in_reactor
    async def test_a_release_failure_is_told_to_the_owner(self):
        self.triggers.release_failed(job(), "mfp-3f", "the printer did not answer")
        (message,) = await self.delivered_mail(1)
        self.assertIn("the printer did not answer", message.get_body(("plain",)).get_content())

    @in_reactor
    async def test_a_job_about_to_expire_is_told_once(self):
        from accounting.records import NewJob

        self.core.jobs.ensure_queues(["secure"], expire_minutes={"secure": 20})
        now = datetime.now(timezone.utc)
        self.core.jobs.record_jobs([NewJob(queue="secure", owner="bob", source_host="ws", protocol="lpd", size=1,
                                           sha256="0" * 64, spool_name="s1", received_at=now, title="soon")])
        self.assertEqual(await self.triggers.check_expiring(), 1)
        self.assertEqual(await self.triggers.check_expiring(), 0)
        (message,) = await self.delivered_mail(1)
        self.assertIn("Your print job soon expires at", message["Subject"])

    @in_reactor
    async def test_a_user_who_turned_a_notice_off_gets_nothing(self):
        self.core.notices.set_preference("bob", "release_failed", False)
        self.assertIs(await self.notices.release_failed(job(), "mfp", "x"), False)

    @in_reactor
    async def test_printer_alerts_go_to_every_admin(self):
        self.assertEqual(await self.notices.printer_alert("mfp-3f", "toner low", "Black toner at 5%",
                                                          location="3rd floor"), 2)
        messages = await self.delivered_mail(2)
        self.assertEqual(sorted(m["To"] for m in messages), ["lead@example.org", "ops@example.org"])
        self.assertEqual(messages[0]["Subject"], "Printer mfp-3f: toner low (Black toner at 5%)")

    @in_reactor
    async def test_a_scheduled_report_carries_its_attachments(self):
        sent = await self.notices.scheduled_report("finance@example.org", "Chargeback June", "Attached.",
                                                   [("june.csv", b"cost center,amount\nCC-1,12.00\n", "text", "csv")])
        self.assertIs(sent, True)
        (message,) = await self.delivered_mail(1)
        (attachment,) = list(message.iter_attachments())
        self.assertEqual((attachment.get_filename(), attachment.get_content()),
                         ("june.csv", "cost center,amount\nCC-1,12.00\n"))
