"""Printer alerts: the admins (``[notices] admins``) are mailed when a watched (approved)
printer falls into error (a jam, no paper, a door open, a critical alert; a trap saying
so) or warning (toner or paper low, a warning alert).

One notice per change, not per poll: accounting decides (``printer_alert_due``), so a
printer that stays in error, or stops answering SNMP for a while and comes back still in
error, is not told twice, and a restart does not tell it again. A printer that recovers
is not mailed about: a jam someone cleared a minute later would double the mail for no
decision to take, and ``printgate devices list`` shows who is healthy. With mail off, or
no admins, nothing is asked of the database at all.
"""
from __future__ import annotations

import re

from twisted.logger import Logger

from accounting.fleet.health import ALERTING_HEALTH
from accounting.fleet.records import FleetDevice, HealthChange
from spooler.snmp.printer_mib import ERROR_BITS

log = Logger()


def spoken(reason: str) -> str:
    """A health reason for people: the Printer-MIB's error names as words ("lowToner"
    becomes "low toner"), the printer's own alert texts as they are."""
    return ", ".join(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", part).lower() if part in ERROR_BITS else part
                     for part in reason.split(", "))


class PrinterAlerts:
    def __init__(self, notices, store, db):
        """``notices``: ``gateway.mail.notices.Notices`` (None: nobody is told);
        ``store``: accounting's ``NoticeStore``; ``db(function, *args)``: blocking work,
        awaitable (the fleet's)."""
        self.notices = notices
        self.store = store
        self.db = db

    @property
    def on(self) -> bool:
        return self.notices is not None and self.notices.tells_admins("printer_alert")

    async def health_changed(self, device: FleetDevice, change: HealthChange | None) -> bool:
        """Called after every status poll and health-changing trap; True when the admins
        were told (the mail is queued, not awaited: a notice never holds up a poll, and
        never breaks it)."""
        if change is None or not change.changed or device.state != "approved" or not self.on:
            return False
        if change.new != "ok" and change.new not in ALERTING_HEALTH:
            return False  # unreachable, unknown: no news, and nothing to re-arm
        try:
            due = await self.db(self.store.printer_alert_due, device.id, change.new)
        except Exception as exc:  # noqa: BLE001 - the poll was recorded; only the notice is lost
            log.warn("Printer alert for {device} not sent: {error}", device=device.label, error=str(exc))
            return False
        if not due:
            return False
        log.info("Telling the admins: printer {device} is now {health} ({reason})", device=device.label,
                 health=change.new, reason=change.reason)
        self.notices.printer_alert(device.label, change.new, spoken(change.reason), location=device.info.location)
        return True
