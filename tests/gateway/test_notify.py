"""Notifier against real peers on loopback: aiosmtpd (STARTTLS and AUTH required, a
self-signed certificate made here) and a small HTTP server taking webhooks.

The tests drive the global reactor, as the gateway runs (Twisted's STARTTLS layer
schedules its writes on the global reactor, so a private reactor would stall there), by
iterating it until the test's coroutine is done: other tests in the same process leave
delayed calls on it, which trial's reactor janitor would count against these tests."""
from __future__ import annotations

from tests.gateway.release_world import world  # noqa: F401 (fixture)

import datetime
import functools
import time
import ipaddress
import json
import shutil
import ssl
import tempfile
import threading
from pathlib import Path
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from twisted.internet import reactor, task
from twisted.internet.defer import ensureDeferred
from twisted.python.failure import Failure
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial import unittest

from spooler.config import load_config
from gateway.notify import Notification, Notifier, SmtpSettings, WebhookPolicy
from tests.fixtures.peers import free_port

pytestmark = pytest.mark.timeout(30)

USER, PASSWORD = "printgate", "s3cret"


@dataclass
class Job:
    id: int
    owner: str
    title: str
    queue: str = "secure"


def make_certificate(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.pem", directory / "smtp.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class MailBox:
    def __init__(self):
        self.messages = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "data": envelope.content.decode(), "tls": session.ssl is not None,
                              "login": session.auth_data if session.authenticated else None})
        self.arrived.set()
        return "250 OK"


def start_smtp_server(directory):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert_file, key_file = make_certificate(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)

    def authenticate(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=(auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode()),
                          auth_data=auth_data.login)

    mailbox = MailBox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True, authenticator=authenticate, auth_required=True,
                            ready_timeout=10)
    controller.start()
    return controller, mailbox, cert_file


@dataclass
class WebhookReceiver:
    url: str
    bodies: list = field(default_factory=list)
    statuses: list = field(default_factory=list)  # answers to give, in order; then 200


def start_webhook_receiver():
    receiver = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.bodies.append({"json": json.loads(body), "type": self.headers["Content-Type"]})
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


def notifier(*, smtp=None, emails=None, **options):
    emails = emails or {}
    options.setdefault("webhook", WebhookPolicy(attempts=3, timeout=2.0, backoff=0.05))
    return Notifier(reactor, smtp=smtp, lookup_email=emails.get, **options)


def smtp_settings(controller, cert_file, **changes):
    settings = dict(host="127.0.0.1", port=controller.port, mail_from="printgate@example.org", user=USER,
                    password=PASSWORD, ca_file=str(cert_file), timeout=5.0)
    settings.update(changes)
    return SmtpSettings(**settings)


def rule_notification(to, **changes):
    fields = dict(event="rule", job_id=7, owner="bob", title="thesis.pdf", queue="secure", to=to,
                  rule="big-jobs", message="Bob printed 300 pages")
    fields.update(changes)
    return Notification(**fields)


async def eventually(predicate, timeout=10.0):
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await task.deferLater(reactor, 0.05, lambda: None)
    raise AssertionError("condition not met in time")


def in_reactor(test, timeout=20.0):
    """Run an ``async def`` test on the global reactor until it is done (what trial does,
    without its reactor janitor)."""

    @functools.wraps(test)
    def run(self):
        outcome = []

        def done(result):
            outcome.append(result)
            if reactor.running:
                reactor.crash()

        deferred = ensureDeferred(test(self))
        deferred.addBoth(done)
        if not outcome:
            limit = reactor.callLater(timeout, reactor.crash)
            reactor.run(installSignalHandlers=False)
            if limit.active():
                limit.cancel()
        if not outcome:
            deferred.cancel()
            raise AssertionError(f"{test.__name__} did not finish in {timeout} s")
        if isinstance(outcome[0], Failure):
            outcome[0].raiseException()

    return run


class LoggedTestCase(unittest.SynchronousTestCase):
    def setUp(self):
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def logged(self):
        return [formatEvent(event) for event in self.events]


class MailNotifications(LoggedTestCase):
    def setUp(self):
        super().setUp()
        directory = Path(tempfile.mkdtemp(prefix="printgate-smtp-"))
        self.addCleanup(shutil.rmtree, directory, True)
        self.controller, self.mailbox, self.cert_file = start_smtp_server(directory)
        self.addCleanup(self.controller.stop)

    def smtp(self, **changes):
        return smtp_settings(self.controller, self.cert_file, **changes)

    @in_reactor
    async def test_a_mail_arrives_over_starttls_with_auth(self):
        sender = notifier(smtp=self.smtp())
        self.assertIs(await sender.send(rule_notification("admin@example.org")), True)
        (message,) = self.mailbox.messages
        self.assertEqual(message["to"], ["admin@example.org"])
        self.assertEqual(message["from"], "printgate@example.org")
        self.assertTrue(message["tls"])
        self.assertEqual(message["login"], USER.encode())
        self.assertIn("Bob printed 300 pages", message["data"])
        self.assertIn("Subject: Print job thesis.pdf of bob", message["data"])

    @in_reactor
    async def test_the_owner_is_mailed_at_the_address_accounting_gives(self):
        sender = notifier(smtp=self.smtp(), emails={"bob": "bob@example.org"})
        self.assertIs(await sender.send(rule_notification("owner")), True)
        self.assertEqual(self.mailbox.messages[0]["to"], ["bob@example.org"])

    @in_reactor
    async def test_an_owner_without_an_email_gets_nothing_and_it_is_logged(self):
        sender = notifier(smtp=self.smtp())
        self.assertIs(await sender.send(rule_notification("owner")), False)
        self.assertEqual(self.mailbox.messages, [])
        self.assertTrue(any("bob has no email address" in line for line in self.logged()))

    @in_reactor
    async def test_a_server_certificate_that_does_not_verify_gets_no_mail(self):
        sender = notifier(smtp=self.smtp(ca_file=None))
        self.assertIs(await sender.send(rule_notification("admin@example.org")), False)
        self.assertEqual(self.mailbox.messages, [])
        self.assertTrue(any("mail about job 7 (rule) to admin@example.org" in line and "failed" in line
                            for line in self.logged()))

    @in_reactor
    async def test_a_wrong_password_gets_no_mail(self):
        sender = notifier(smtp=self.smtp(password="wrong", timeout=2.0))
        self.assertIs(await sender.send(rule_notification("admin@example.org")), False)
        self.assertEqual(self.mailbox.messages, [])

    @in_reactor
    async def test_expired_jobs_are_mailed_to_their_owners_only_when_configured(self):
        emails = {"bob": "bob@example.org"}
        notifier(smtp=self.smtp(), emails=emails).jobs_expired([Job(3, "bob", "old job")])
        notifier(smtp=self.smtp(), emails=emails, notify_owner_on_expiry=True).jobs_expired(
            [Job(4, "bob", "old job")])
        await eventually(lambda: self.mailbox.messages)
        await task.deferLater(reactor, 0.3, lambda: None)
        (message,) = self.mailbox.messages
        self.assertEqual(message["to"], ["bob@example.org"])
        self.assertIn("Subject: Your print job old job expired", message["data"])


class MailFailures(LoggedTestCase):
    @in_reactor
    async def test_a_down_smtp_server_is_logged_not_raised(self):
        smtp = SmtpSettings(host="127.0.0.1", port=free_port(), mail_from="printgate@example.org", timeout=3.0)
        self.assertIs(await notifier(smtp=smtp).send(rule_notification("admin@example.org")), False)
        self.assertTrue(any("mail about job 7 (rule) to admin@example.org via 127.0.0.1" in line
                            for line in self.logged()))

    @in_reactor
    async def test_mail_without_a_configured_relay_is_logged(self):
        self.assertIs(await notifier().send(rule_notification("admin@example.org")), False)
        self.assertTrue(any("no SMTP relay configured" in line for line in self.logged()))


class WebhookNotifications(LoggedTestCase):
    def setUp(self):
        super().setUp()
        self.webhook, server = start_webhook_receiver()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)

    @in_reactor
    async def test_a_webhook_gets_the_json_body(self):
        self.assertIs(await notifier().send(rule_notification(self.webhook.url)), True)
        (body,) = self.webhook.bodies
        self.assertEqual(body["type"], "application/json")
        self.assertEqual(body["json"], {"event": "rule", "job_id": 7, "owner": "bob", "title": "thesis.pdf",
                                        "queue": "secure", "rule": "big-jobs", "message": "Bob printed 300 pages"})

    @in_reactor
    async def test_a_failing_webhook_is_tried_three_times_then_logged(self):
        self.webhook.statuses = [500, 502, 503, 500]
        self.assertIs(await notifier().send(rule_notification(self.webhook.url)), False)
        self.assertEqual(len(self.webhook.bodies), 3)
        self.assertTrue(any("(try 3 of 3): " in line and "HTTP 503" in line for line in self.logged()))

    @in_reactor
    async def test_a_webhook_refusing_the_request_is_not_retried(self):
        self.webhook.statuses = [404]
        self.assertIs(await notifier().send(rule_notification(self.webhook.url)), False)
        self.assertEqual(len(self.webhook.bodies), 1)

    @in_reactor
    async def test_a_webhook_recovering_on_the_second_try_is_delivered(self):
        self.webhook.statuses = [503]
        self.assertIs(await notifier().send(rule_notification(self.webhook.url)), True)
        self.assertEqual(len(self.webhook.bodies), 2)

    @in_reactor
    async def test_a_recorded_job_sends_each_entry_its_rules_asked_for(self):
        entries = [{"rule": "bob-watch", "to": self.webhook.url, "message": "Bob printed"}]
        notifier().job_recorded(Job(12, "bob", "report"), entries)
        self.assertEqual(self.webhook.bodies, [], "sent on a later reactor turn, never at once")
        await eventually(lambda: self.webhook.bodies)
        payload = self.webhook.bodies[0]["json"]
        self.assertEqual((payload["event"], payload["job_id"], payload["rule"]), ("rule", 12, "bob-watch"))

    @in_reactor
    async def test_a_down_webhook_is_logged_not_raised(self):
        url = f"http://127.0.0.1:{free_port()}/hook"
        self.assertIs(await notifier().send(rule_notification(url)), False)
        self.assertEqual(sum(f"webhook for job 7 (rule) to {url} failed" in line for line in self.logged()), 3)


def test_the_notify_section_is_read(tmp_path):
    path = tmp_path / "printgate.toml"
    path.write_text('[notify]\nsmtp_host = "mail.example.org"\nsmtp_port = 587\nsmtp_user = "pg"\n'
                    'smtp_password = "pw"\nsmtp_ca_file = "/etc/ca.pem"\nmail_from = "pg@example.org"\n'
                    'notify_owner_on_expiry = true\n')
    notify = load_config(path).notify
    assert (notify.smtp_host, notify.smtp_port, notify.smtp_user, notify.smtp_password) == (
        "mail.example.org", 587, "pg", "pw")
    assert notify.smtp_starttls is True and notify.notify_owner_on_expiry is True
    assert str(notify.smtp_ca_file) == "/etc/ca.pem" and notify.mail_from == "pg@example.org"


def test_without_a_notify_section_nothing_is_mailed_and_expiry_is_quiet(tmp_path):
    notify = load_config(None).notify
    assert notify.smtp_host is None and notify.notify_owner_on_expiry is False and notify.smtp_starttls is True


def held_job(job_id):
    from types import SimpleNamespace

    return SimpleNamespace(id=job_id, owner="bob", title="t", queue="secure", source_host="127.0.0.1",
                           protocol="lpd", size=10, pages=1, spool_name=f"spool-{job_id}")


class RecordingNotifier:
    def __init__(self):
        self.recorded, self.expired = [], []

    def job_recorded(self, job, entries):
        self.recorded.append((job.id, entries))

    def jobs_expired(self, jobs):
        self.expired.append([job.id for job in jobs])


def test_the_intake_hook_runs_after_the_callers_own_callbacks(tmp_path):
    from twisted.internet.defer import Deferred

    from spooler.config import GatewayConfig
    from spooler.intake import IntakePipeline

    order = []

    class Committer:
        busy = False

        def submit(self, files, quick=False):
            self.deferred = Deferred()
            return self.deferred

    class Receiver:
        quick_to_record = False

        def prepare(self):
            return ("writer", None)

        def _done(self, result):
            return result

    committer = Committer()
    intake = IntakePipeline(config=GatewayConfig(data_dir=tmp_path), spool=None, committer=committer,
                            on_recorded=lambda jobs: order.append(("notify", [job.id for job in jobs])))
    deferred = intake.commit_together([Receiver()])
    deferred.addCallback(lambda jobs: order.append(("acknowledged", [job.id for job in jobs])))
    committer.deferred.callback([held_job(5)])
    assert order == [("acknowledged", [5]), ("notify", [5])]


def test_the_reception_hands_notify_entries_over_once_the_job_is_acknowledged(world):
    from gateway.receive_job import JobReception

    notifier = RecordingNotifier()
    reception = JobReception(world.accounting, notifier)
    entries = [{"rule": "watch-alice", "to": "owner", "message": "hi"}]
    watched, plain = new_job(world), new_job(world)
    watched.decision = world.core.decide(watched)
    watched.decision.notify = entries
    plain.decision = world.core.decide(plain)
    held = reception.record_jobs([watched, plain])
    assert notifier.recorded == []
    reception.recorded(held)
    assert notifier.recorded == [(held[0].id, entries)]


def test_the_gateway_tells_the_notifier_which_jobs_expired_and_removes_their_bytes(world, tmp_path):
    from gateway.end_job import JobEnding
    from gateway.process import Gateway
    from spooler.config import GatewayConfig
    from tests.gateway.release_world import hold, result_of

    job_id = hold(world)
    spool_name = world.core.jobs.get_job(job_id).spool_name
    gateway = Gateway(GatewayConfig(data_dir=tmp_path), reactor=reactor)
    gateway.notifier = RecordingNotifier()
    gateway.ending = JobEnding(world.accounting, world.spool)
    world.core.retention.expire_minutes = 0
    result_of(gateway.expire_jobs())
    assert gateway.notifier.expired == [[job_id]]
    assert world.core.jobs.get_job(job_id).state == "expired"
    assert not (world.spool.jobs_dir / spool_name).exists()


def new_job(world):
    import hashlib
    from datetime import datetime, timezone

    from accounting.records import NewJob
    from tests.gateway.release_world import DOCUMENT

    writer = world.spool.create()
    writer.write(DOCUMENT)
    writer.finish()
    writer.make_durable()
    return NewJob(queue="secure", owner="alice", source_host="ws1", protocol="lpd", size=len(DOCUMENT),
                  sha256=hashlib.sha256(DOCUMENT).hexdigest(), spool_name=writer.name,
                  received_at=datetime.now(timezone.utc), title="watched")
