"""Printer alerts to the admins, as the fleet's polls and traps leave a printer's health
in a real accounting database, mailed through the sender to aiosmtpd: one notice per
change into error or warning, never one per poll, nothing without mail or admins.
(``tests/integration/test_fleet_serve.py`` does the same through ``printgate serve``
with SNMP printers and traps.)"""
from __future__ import annotations

import pytest
from twisted.internet import reactor
from twisted.internet.threads import deferToThreadPool

from accounting.fleet import Fleet
from accounting.fleet.records import Alert, PrinterInfo, PrinterStatus, Probe
from gateway.fleet_alerts import PrinterAlerts, spoken
from gateway.mail.notices import Notices
from gateway.mail.sender import MailSender
from spooler.config import MailConfig, NoticesConfig
from tests.fixtures.global_reactor import in_reactor
from tests.fixtures.mail_world import RelayTestCase

pytestmark = pytest.mark.timeout(60)

JAM = PrinterStatus(device_status="running", errors=("jammed",),
                    alerts=(Alert(1, severity="critical", code=8, description="Paper jam in tray 2"),))
LOW_TONER = PrinterStatus(device_status="running", errors=("lowToner",))
HEALTHY = PrinterStatus(device_status="running")


def test_the_printer_mibs_error_names_are_spoken_and_printers_own_texts_kept():
    assert spoken("jammed, lowToner, Paper jam in tray 2") == "jammed, low toner, Paper jam in tray 2"
    assert spoken("") == ""


class PrinterAlertMail(RelayTestCase):
    def setUp(self):
        super().setUp()
        core = self.accounting.core
        self.fleet = Fleet(core.database, lambda: core.secrets)
        core.devices.add("mfp-3f", device_class="office", location="HQ/Floor 3/East")
        self.fleet.inventory.record_discovery(Probe("10.0.3.20", 161, "office", True, "1.3.6.1.4.1.1347.41.1", "MFP"),
                                              PrinterInfo(model="MFP", serial="S1", location="HQ/Floor 3/East"))
        self.device = self.fleet.inventory.approve("10.0.3.20", "mfp-3f")
        self.notices = Notices(reactor, self.sender, self.accounting, NoticesConfig(admins=["ops@example.org"]),
                               timezone="UTC")
        self.alerts = self.alerts_with(self.notices)

    def alerts_with(self, notices):
        pool = reactor.getThreadPool()
        return PrinterAlerts(notices, self.accounting.core.notices,
                             lambda function, *args: deferToThreadPool(reactor, pool, function, *args))

    async def poll(self, status=None, alerts=None):
        """What ``FleetService.poll_status`` does with a status read (None: no answer)."""
        inventory = self.fleet.inventory
        change = (inventory.record_unreachable(self.device.id, "no answer") if status is None
                  else inventory.record_status(self.device.id, status))
        return await (alerts or self.alerts).health_changed(self.device, change)

    @in_reactor
    async def test_a_printer_falling_into_error_is_told_to_the_admins_with_where_it_is_and_why(self):
        self.assertIs(await self.poll(JAM), True)
        (message,) = await self.delivered_mail(1)
        self.assertEqual(message["To"], "ops@example.org")
        self.assertEqual(message["Subject"], "Printer mfp-3f: error (jammed, Paper jam in tray 2)")
        text = message.get_body(("plain",)).get_content()
        self.assertIn("Printer mfp-3f (HQ/Floor 3/East) reports an error since", text)
        self.assertIn("<strong>mfp-3f</strong>", message.get_body(("html",)).get_content())

    @in_reactor
    async def test_a_printer_staying_in_error_poll_after_poll_is_told_once(self):
        told = [await self.poll(JAM), await self.poll(JAM), await self.poll(JAM)]
        self.assertEqual(told, [True, False, False])
        await self.delivered_mail(1)
        self.assertEqual(self.accounting.core.notices.count_sent("printer_alert"), 1)

    @in_reactor
    async def test_a_printer_coming_back_still_jammed_after_not_answering_is_not_told_again(self):
        told = [await self.poll(JAM), await self.poll(None), await self.poll(JAM)]
        self.assertEqual(told, [True, False, False])
        self.assertEqual(len(await self.delivered_mail(1)), 1)  # and nothing left in flight for the next test

    @in_reactor
    async def test_recovering_is_not_mailed_but_the_next_jam_is(self):
        told = [await self.poll(JAM), await self.poll(HEALTHY), await self.poll(JAM)]
        self.assertEqual(told, [True, False, True])
        self.assertEqual(len(await self.delivered_mail(2)), 2)

    @in_reactor
    async def test_a_supply_running_low_is_told_as_a_warning_in_words(self):
        self.assertIs(await self.poll(LOW_TONER), True)
        (message,) = await self.delivered_mail(1)
        self.assertEqual(message["Subject"], "Printer mfp-3f: warning (low toner)")
        self.assertIn("reports a warning since", message.get_body(("plain",)).get_content())

    @in_reactor
    async def test_a_trap_making_a_printer_error_is_told_and_the_poll_that_confirms_it_is_not(self):
        change = self.fleet.inventory.record_event(self.device.id, kind="trap:printer-alert", severity="critical",
                                                   description="Paper jam (trap)", health="error")
        self.assertIs(await self.alerts.health_changed(self.device, change), True)
        self.assertIs(await self.poll(JAM), False)
        (message,) = await self.delivered_mail(1)
        self.assertIn("Paper jam (trap)", message["Subject"])

    @in_reactor
    async def test_nobody_is_told_and_nothing_recorded_without_admins_or_mail(self):
        no_admins = Notices(reactor, self.sender, self.accounting, NoticesConfig(), timezone="UTC")
        unconfigured = MailSender(reactor, MailConfig(), data_dir=self.directory / "off", secret={}.get)
        self.addCleanup(unconfigured.stop)
        no_mail = Notices(reactor, unconfigured, self.accounting, NoticesConfig(admins=["ops@example.org"]))
        for notices in (no_admins, no_mail, None):
            self.assertIs(await self.poll(JAM, self.alerts_with(notices)), False)
            self.assertIs(await self.poll(HEALTHY, self.alerts_with(notices)), False)
        self.assertEqual(self.accounting.core.notices.count_sent("printer_alert"), 0)
        self.assertEqual(self.mailbox.messages, [])
