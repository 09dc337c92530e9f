"""The calendar scheduler: cadences in the configured zone, and real deliveries on
loopback — a directory, OpenSSH's sftp, Samba's smbd and aiosmtpd — with failed
destinations retried with backoff and the outcome kept for ``schedule list``."""
from __future__ import annotations

import email
import json
import shutil
import tarfile
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from twisted.internet import reactor
from twisted.trial import unittest

from accounting.core import AccountingCore, AccountingSettings
from accounting.database import Database, migrate
from accounting.fleet import Fleet
from accounting.fleet.records import PrinterInfo, Probe
from accounting.passwords import SecretHasher, fast_hasher
from accounting.time import zone
from gateway.destinations import DestinationError, parse_destination
from gateway.fleet_export import fleet_export_producer
from gateway.mail.sender import MailSender
from gateway.scheduler import (Delivery, ScheduleError, Scheduler, backup_producer, cadence, jittered, next_run,
                               report_period_before, report_producer)
from spooler.config import MailConfig
from tests.accounting.finance_scenario import Clock, build_history
from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.file_servers import start_sftp_server, start_smb_server
from tests.fixtures.global_reactor import eventually, in_reactor
from tests.fixtures.smtp import PASSWORD, USER, start_smtp

pytestmark = pytest.mark.timeout(120)
PARIS = zone("Europe/Paris")
UTC = timezone.utc


@pytest.mark.parametrize("every, at, day, expected", [
    ("daily", "06:00", None, "0 6 * * *"), ("weekly", "07:30", "fri", "30 7 * * fri"),
    ("monthly", "05:15", "1", "15 5 1 * *")])
def test_daily_weekly_and_monthly_are_cron_expressions(every, at, day, expected):
    assert cadence(every, at=at, day=day) == expected


@pytest.mark.parametrize("kwargs", [dict(every="hourly"), dict(every="daily", at="25:00"),
                                    dict(every="monthly", day="31"), dict(cron="61 * * * *"), dict(cron="* * *")])
def test_bad_cadences_are_clear_errors(kwargs):
    with pytest.raises(ScheduleError):
        cadence(kwargs.pop("every", None), **kwargs)


def test_a_daily_run_keeps_its_local_hour_across_the_end_of_summer_time():
    before = next_run("0 6 * * *", datetime(2026, 10, 24, 3, 0, tzinfo=UTC), PARIS)
    after = next_run("0 6 * * *", before, PARIS)
    assert (before, after) == (datetime(2026, 10, 24, 4, 0, tzinfo=UTC), datetime(2026, 10, 25, 5, 0, tzinfo=UTC))


def test_a_jitter_window_moves_a_run_forward_by_at_most_the_window():
    at = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    moved = [jittered(at, {"jitter_minutes": 30}) for _ in range(200)]
    assert all(at <= m <= at + timedelta(minutes=30) for m in moved)
    assert len(set(moved)) > 1, "gateways do not all pick the same moment"
    assert jittered(at, {}) == at and jittered(at, {"jitter_minutes": 0}) == at


def test_a_run_covers_the_whole_period_before_it():
    due = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # Tuesday 1 December, 06:00 in Paris
    assert report_period_before(due, "previous-month", PARIS) == (date(2026, 11, 1), date(2026, 12, 1))
    assert report_period_before(due, "previous-week", PARIS) == (date(2026, 11, 23), date(2026, 11, 30))
    assert report_period_before(due, "previous-day", PARIS) == (date(2026, 11, 30), date(2026, 12, 1))


@pytest.mark.parametrize("url, scheme, host, port, path", [
    ("/srv/reports", "file", "", 0, "/srv/reports"),
    ("sftp://finance@files.example.org/reports", "sftp", "files.example.org", 22, "/reports"),
    ("smb://svc@nas:4450/finance/monthly", "smb", "nas", 4450, "/finance/monthly"),
])
def test_destinations_are_urls(url, scheme, host, port, path):
    destination = parse_destination(url)
    assert (destination.scheme, destination.host, destination.port, destination.path) == (scheme, host, port, path)


@pytest.mark.parametrize("url", ["ftp://x/y", "sftp://host/path", "smb://u:pw@host/share", "smb://u@host/",
                                 "mailto:", "relative/dir"])
def test_bad_destinations_are_clear_errors(url):
    with pytest.raises(DestinationError):
        parse_destination(url)


class Deliveries(unittest.SynchronousTestCase):
    """One SQLite database with a November history; the scheduler ticks when told."""

    def setUp(self):
        self.directory = Path(tempfile.mkdtemp(prefix="printgate-schedule-"))
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.database = Database(f"sqlite:///{self.directory / 'printgate.sqlite3'}")
        migrate(self.database.writer)
        self.addCleanup(self.database.dispose)
        settings = AccountingSettings(timezone="Europe/Paris", secrets_key_file=self.directory / "secrets.key",
                                      rule_cache_seconds=0)
        self.core = AccountingCore(self.database, settings, hasher=SecretHasher(fast_hasher()))
        clock = Clock(datetime(2026, 11, 3, tzinfo=UTC))
        patches = [("accounting.ledger", "utcnow"), ("accounting.jobs", "utcnow"),
                   ("accounting.decisions", "utcnow"), ("accounting.audit", "utcnow")]
        for module, name in patches:
            self.patch(__import__(module, fromlist=[name]), name, clock)
        build_history(self.core, clock)
        self.now = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
        self.sent = []
        self.fleet = Fleet(self.database, lambda: self.core.secrets)
        self.fleet.inventory.record_discovery(Probe("127.0.0.2", 161, "office", True, "1.3.6.1.4.1.1347.41.1", "MFP"),
                                              PrinterInfo(model="TASKalfa", serial="SER-42", location="HQ/Floor 3"))

    def scheduler(self, *, send=None, known_hosts=None):
        delivery = Delivery(send=send, secrets=self.core.secrets, known_hosts=known_hosts or self.directory / "kh",
                            mail_from="printgate@example.org", timeout=10)
        scheduler = Scheduler(reactor=reactor, threadpool=reactor.getThreadPool(), book=self.core.schedules, tz=PARIS,
                              outbox=self.directory / "outbox", delivery=delivery, now=lambda: self.now)
        scheduler.register("report", report_producer(self.core, PARIS))
        scheduler.register("backup", backup_producer(self.database))
        scheduler.register("fleet-export", fleet_export_producer(self.fleet.inventory))
        return scheduler

    def add(self, name, destinations, *, kind="report", fmt="csv"):
        params = {"report": "chargeback", "format": fmt, "period": "previous-month", "by": ["cost-center"],
                  "bucket": "day", "bom": False} if kind == "report" else {}
        return self.core.schedules.add(name, kind=kind, cadence="0 6 1 * *", params=params,
                                       destinations=destinations, next_run_at=self.now)

    def last_run(self, name):
        return self.core.schedules.get(name).last_run

    @in_reactor
    async def test_a_due_report_reaches_a_directory_sftp_and_smb_and_the_schedule_moves_on(self):
        sftp, smb = start_sftp_server(), start_smb_server()
        self.addCleanup(sftp.stop)
        self.addCleanup(smb.stop)
        self.core.secrets.set(parse_destination(smb.url("finance")).secret_name, smb.password)
        local, remote = self.directory / "reports", sftp.directory / "inbox"
        self.add("monthly", [str(local), sftp.url(remote), smb.url("finance")])
        await self.scheduler(known_hosts=sftp.known_hosts).tick()
        name = "monthly-20261101-20261130.csv"
        for folder in (local, remote, smb.share / "finance"):
            self.assertEqual(sorted(p.name for p in folder.iterdir()), [name])
            self.assertIn("CC-100", (folder / name).read_text())
        run = self.last_run("monthly")
        self.assertEqual((run.status, run.attempts, run.pending, run.output), ("delivered", 1, [], name))
        self.assertEqual(self.core.schedules.get("monthly").next_run_at, datetime(2027, 1, 1, 5, 0, tzinfo=UTC))
        self.assertFalse((self.directory / "outbox" / str(run.id)).exists())

    @in_reactor
    async def test_a_failing_destination_is_retried_with_backoff_and_only_it(self):
        smb = start_smb_server()
        self.addCleanup(smb.stop)
        local = self.directory / "reports"
        self.add("monthly", [str(local), smb.url()])  # no password stored yet
        scheduler = self.scheduler()
        await scheduler.tick()
        run = self.last_run("monthly")
        self.assertEqual((run.status, run.attempts, run.pending), ("retrying", 1, [smb.url()]))
        self.assertEqual(run.next_attempt_at, self.now + timedelta(seconds=60))
        self.assertIn("no password stored", run.error)
        self.now += timedelta(seconds=30)
        await scheduler.tick()
        self.assertEqual(self.last_run("monthly").attempts, 1, "not before its time")
        self.core.secrets.set(parse_destination(smb.url()).secret_name, smb.password)
        (local / "monthly-20261101-20261130.csv").unlink()
        self.now += timedelta(seconds=31)
        await scheduler.tick()
        run = self.last_run("monthly")
        self.assertEqual((run.status, run.attempts, run.pending), ("delivered", 2, []))
        self.assertEqual([p.name for p in smb.share.iterdir()], ["monthly-20261101-20261130.csv"])
        self.assertEqual(list(local.iterdir()), [], "the directory had it already; it is not sent twice")

    @in_reactor
    async def test_a_run_that_keeps_failing_ends_failed(self):
        self.add("monthly", [f"sftp://nobody@127.0.0.1:{_closed_port()}/x"])
        scheduler = self.scheduler()
        scheduler.retry_delays = (1, 1)
        for _ in range(3):
            await scheduler.tick()
            self.now += timedelta(seconds=2)
        run = self.last_run("monthly")
        self.assertEqual((run.status, run.attempts), ("failed", 3))
        self.assertIn("known host keys", run.error)

    @in_reactor
    async def test_a_report_is_mailed_with_the_file_attached(self):
        authority = CertificateAuthority.create(self.directory / "ca")
        controller, mailbox = start_smtp(authority)
        self.addCleanup(controller.stop)
        config = MailConfig(host="127.0.0.1", port=controller.port, user=USER, ca_file=authority.ca_file,
                            mail_from="printgate@example.org", timeout=5.0, retry_initial=0.2)
        sender = MailSender(reactor, config, data_dir=self.directory / "mail", secret={"smtp/password": PASSWORD}.get)
        self.addCleanup(sender.stop)
        self.add("monthly", ["mailto:finance@example.org,cfo@example.org"], fmt="xlsx")
        await self.scheduler(send=sender.send).tick()
        self.assertEqual(self.last_run("monthly").status, "delivered")
        await eventually(lambda: mailbox.messages)
        (message,) = mailbox.messages
        self.assertEqual(sorted(message["to"]), ["cfo@example.org", "finance@example.org"])
        parsed = email.message_from_bytes(message["data"])
        (attachment,) = [part for part in parsed.walk() if part.get_filename()]
        self.assertEqual(attachment.get_filename(), "monthly-20261101-20261130.xlsx")
        self.assertEqual(attachment.get_payload(decode=True)[:2], b"PK")

    @in_reactor
    async def test_a_scheduled_backup_delivers_a_restorable_snapshot(self):
        target = self.directory / "backups"
        self.add("nightly", [str(target)], kind="backup")
        await self.scheduler().tick()
        (archive,) = target.iterdir()
        self.assertEqual(archive.name, "printgate-backup-20261201-0500.tar")
        with tarfile.open(archive) as tar:
            names = sorted(tar.getnames())
        self.assertIn("printgate-backup-20261201-0500/printgate.sqlite3", names)
        self.assertIn("printgate-backup-20261201-0500/MANIFEST.json", names)

    @in_reactor
    async def test_a_fleet_export_reaches_a_directory_and_sftp_and_its_next_run_is_jittered(self):
        sftp = start_sftp_server()
        self.addCleanup(sftp.stop)
        local, remote = self.directory / "exports", sftp.directory / "printers"
        self.core.schedules.add("printers", kind="fleet-export", cadence="0 6 * * *",
                                params={"format": "json", "jitter_minutes": 30},
                                destinations=[str(local), sftp.url(remote)], next_run_at=self.now)
        await self.scheduler(known_hosts=sftp.known_hosts).tick()
        name = "printers-20261201T050000Z.json"
        for folder in (local, remote):
            self.assertEqual(sorted(p.name for p in folder.iterdir()), [name])
            (printer,) = json.loads((folder / name).read_text())["printers"]
            self.assertEqual((printer["address"], printer["serial"], printer["model"]),
                             ("127.0.0.2", "SER-42", "TASKalfa"))
        self.assertEqual(self.last_run("printers").status, "delivered")
        following = self.core.schedules.get("printers").next_run_at
        cron_time = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
        self.assertTrue(cron_time <= following <= cron_time + timedelta(minutes=30), following)

    @in_reactor
    async def test_two_gateways_ticking_together_run_a_schedule_once(self):
        local = self.directory / "reports"
        self.add("monthly", [str(local)])
        first, second = self.scheduler(), self.scheduler()
        from twisted.internet.defer import gatherResults

        await gatherResults([first.tick(), second.tick()])
        self.assertEqual(len(self.core.schedules.runs("monthly")), 1)


def _closed_port():
    from tests.fixtures.peers import free_port

    return free_port()
