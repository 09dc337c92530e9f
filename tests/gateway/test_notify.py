"""Notifier against real peers on loopback: mail through the gateway's one sender to
aiosmtpd (STARTTLS and AUTH required, certificate from a throwaway CA), with a real
accounting database for owners' addresses and choices, and a small HTTP server taking
webhooks. The tests drive the global reactor (tests/fixtures/global_reactor.py)."""
from __future__ import annotations

from tests.gateway.release_world import world  # noqa: F401 (fixture)

import json
import threading
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from twisted.internet import reactor, task
from twisted.internet.defer import succeed

from accounting.passwords import SecretHasher, fast_hasher
from gateway.mail.notices import Notices
from gateway.notify import Notification, Notifier, WebhookPolicy
from spooler.config import NoticesConfig, load_config
from tests.fixtures.global_reactor import LoggedTestCase, eventually, in_reactor
from tests.fixtures.mail_world import RelayTestCase
from tests.fixtures.peers import free_port
from tests.fixtures.smtp import USER

pytestmark = pytest.mark.timeout(60)


@dataclass
class Job:
    id: int
    owner: str
    title: str
    queue: str = "secure"


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


def notifier(*, notices=None, **options):
    options.setdefault("webhook", WebhookPolicy(attempts=3, timeout=2.0, backoff=0.05))
    return Notifier(reactor, notices=notices, **options)


def rule_notification(to, **changes):
    fields = dict(event="rule", job_id=7, owner="bob", title="thesis.pdf", queue="secure", to=to,
                  rule="big-jobs", message="Bob printed 300 pages")
    fields.update(changes)
    return Notification(**fields)


class MailNotifications(RelayTestCase):
    mail_options = {"retry_initial": 0.2}

    def setUp(self):
        super().setUp()
        self.accounting.core.users.hasher = SecretHasher(fast_hasher())
        self.accounting.core.users.add_user("bob", email="bob@example.org")
        self.accounting.core.users.add_user("carol")
        self.notices = Notices(reactor, self.sender, self.accounting, NoticesConfig(), timezone="Europe/Berlin")

    @in_reactor
    async def test_a_rule_mail_to_an_address_arrives_over_starttls_with_auth(self):
        self.assertIs(await notifier(notices=self.notices).send(rule_notification("admin@example.org")), True)
        (message,) = await self.delivered()
        self.assertEqual((message["to"], message["from"], message["tls"], message["login"]),
                         (["admin@example.org"], "printgate@example.org", True, USER.encode()))
        self.assertIn(b"Bob printed 300 pages", message["data"])
        self.assertIn(b"Subject: Print job thesis.pdf of bob", message["data"])
        self.assertIn(b"Content-Type: text/html", message["data"])

    @in_reactor
    async def test_the_owner_is_mailed_at_the_address_accounting_gives(self):
        self.assertIs(await notifier(notices=self.notices).send(rule_notification("owner")), True)
        (message,) = await self.delivered()
        self.assertEqual(message["to"], ["bob@example.org"])

    @in_reactor
    async def test_an_owner_without_an_email_gets_nothing(self):
        sent = await notifier(notices=self.notices).send(rule_notification("owner", owner="carol"))
        self.assertIs(sent, False)
        await task.deferLater(reactor, 0.3, lambda: None)
        self.assertEqual(self.mailbox.messages, [])

    @in_reactor
    async def test_an_owner_who_turned_the_notice_off_gets_nothing(self):
        self.accounting.core.notices.set_preference("bob", "job_expired", False)
        notifier(notices=self.notices).jobs_expired([Job(3, "bob", "old job")])
        self.assertIs(await self.notices.job_expired(Job(4, "bob", "old job")), False)
        self.assertEqual(self.mailbox.messages, [])

    @in_reactor
    async def test_expired_jobs_are_mailed_to_their_owners(self):
        notifier(notices=self.notices).jobs_expired([Job(3, "bob", "old job")])
        (message,) = await self.delivered()
        self.assertEqual(message["to"], ["bob@example.org"])
        self.assertIn(b"Subject: Your print job old job expired", message["data"])

    @in_reactor
    async def test_mail_without_a_configured_relay_is_logged(self):
        self.assertIs(await notifier().send(rule_notification("admin@example.org")), False)
        self.assertTrue(any("no mail relay configured" in line for line in self.logged()))


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


def test_the_mail_and_notices_sections_are_read(tmp_path):
    path = tmp_path / "printgate.toml"
    path.write_text('[mail]\nhost = "mail.example.org"\nsecurity = "tls"\nuser = "pg"\nca_file = "/etc/ca.pem"\n'
                    'from = "pg@example.org"\nauth_mechanisms = ["LOGIN"]\n'
                    '[notices]\nlanguage = "de"\njob_held = true\nadmins = ["ops@example.org"]\n'
                    'low_balance_threshold = "1.50"\n')
    config = load_config(path)
    assert (config.mail.host, config.mail.smtp_port, config.mail.user, config.mail.mail_from) == (
        "mail.example.org", 465, "pg", "pg@example.org")
    assert config.mail.auth_mechanisms == ("LOGIN",) and str(config.mail.ca_file) == "/etc/ca.pem"
    assert (config.notices.language, config.notices.enabled["job_held"], config.notices.admins,
            config.notices.low_balance_threshold) == ("de", True, ["ops@example.org"], 150)


def test_a_password_in_the_config_file_is_refused(tmp_path):
    from spooler.config import ConfigError

    path = tmp_path / "printgate.toml"
    path.write_text('[mail]\nhost = "m"\npassword = "secret"\n')
    with pytest.raises(ConfigError, match="printgate secrets set smtp/password"):
        load_config(path)


def test_the_old_notify_smtp_keys_say_where_they_went(tmp_path):
    from spooler.config import ConfigError

    path = tmp_path / "printgate.toml"
    path.write_text('[notify]\nsmtp_host = "m"\n')
    with pytest.raises(ConfigError, match=r"moved.*\[mail\].*printgate secrets set smtp/password"):
        load_config(path)
    path.write_text('[notify]\nsmtp_password_secret = "smtp/password"\n')
    with pytest.raises(ConfigError, match=r"notify.smtp_password_secret has moved.*password_secret"):
        load_config(path)


def test_without_a_mail_section_nothing_is_mailed(tmp_path):
    config = load_config(None)
    assert config.mail.host is None and config.mail.security == "starttls"


def held_job(job_id):
    from types import SimpleNamespace

    return SimpleNamespace(id=job_id, owner="bob", title="t", queue="secure", source_host="127.0.0.1",
                           protocol="lpd", size=10, pages=1, spool_name=f"spool-{job_id}")


class RecordingNotifier:
    def __init__(self):
        self.recorded, self.expired = [], []

    def jobs_recorded(self, jobs):
        pass

    def check_expiring(self):
        return succeed(0)

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
    gateway.notifier = gateway.notice_triggers = RecordingNotifier()
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
