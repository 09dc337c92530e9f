"""The mail sender against real SMTP servers on loopback (aiosmtpd): STARTTLS and AUTH,
implicit TLS, a server that refuses, one that never answers, a queue that survives a
restart, retries, the delivery log, attachments."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from twisted.internet import reactor

from gateway.mail.sender import MailNotSent, MailSender
from spooler.config import MailConfig
from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.global_reactor import LoggedTestCase, eventually, in_reactor
from tests.fixtures.peers import free_port
from tests.fixtures.smtp import PASSWORD, USER, MailBox, SilentServer, start_smtp

pytestmark = pytest.mark.timeout(60)


def message(to="bob@example.org", subject="Your job", body="Hello\n"):
    mail = EmailMessage()
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(body)
    return mail


class MailSenderTests(LoggedTestCase):
    def setUp(self):
        super().setUp()
        self.directory = Path(tempfile.mkdtemp(prefix="printgate-mail-"))
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.authority = CertificateAuthority.create(self.directory / "ca")
        self.secrets = {"smtp/password": PASSWORD}

    def server(self, **options):
        controller, mailbox = start_smtp(self.authority, **options)
        self.addCleanup(controller.stop)
        return controller, mailbox

    def sender(self, port, **changes):
        config = replace(MailConfig(host="127.0.0.1", port=port, user=USER, ca_file=self.authority.ca_file,
                                    mail_from="Printgate <printgate@example.org>", timeout=3.0, retry_initial=0.2,
                                    retry_max=0.5), **changes)
        sender = MailSender(reactor, config, data_dir=self.directory / "data", secret=self.secrets.get)
        self.addCleanup(sender.stop)
        return sender

    @in_reactor
    async def test_a_message_goes_out_over_starttls_with_auth_and_is_logged(self):
        controller, mailbox = self.server()
        sender = self.sender(controller.port)
        entry_id = await sender.send(message())
        self.assertIs(await sender.outcome(entry_id), True)
        (got,) = mailbox.messages
        self.assertEqual((got["to"], got["from"], got["tls"], got["login"]),
                         (["bob@example.org"], "printgate@example.org", True, USER.encode()))
        self.assertIn(b"Subject: Your job", got["data"])
        self.assertEqual([e["event"] for e in sender.log.events()], ["queued", "delivered"])
        self.assertEqual(list((self.directory / "data" / "mail" / "queue").iterdir()), [])

    @in_reactor
    async def test_login_auth_is_used_when_configured(self):
        controller, mailbox = self.server()
        sender = self.sender(controller.port, auth_mechanisms=("LOGIN",))
        self.assertIs(await sender.outcome(await sender.send(message())), True)
        self.assertEqual(mailbox.messages[0]["login"], USER.encode())

    @in_reactor
    async def test_implicit_tls_smtps_delivers(self):
        controller, mailbox = self.server(implicit_tls=True)
        sender = self.sender(controller.port, security="tls")
        self.assertIs(await sender.outcome(await sender.send(message())), True, sender.log.events())
        self.assertEqual(len(mailbox.messages), 1, "this server speaks nothing but TLS")

    @in_reactor
    async def test_attachments_and_bcc_arrive_and_bcc_is_not_shown(self):
        controller, mailbox = self.server()
        sender = self.sender(controller.port)
        mail = message()
        mail["Bcc"] = "finance@example.org"
        mail.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="report.csv")
        self.assertIs(await sender.outcome(await sender.send(mail)), True)
        (got,) = mailbox.messages
        self.assertEqual(sorted(got["to"]), ["bob@example.org", "finance@example.org"])
        self.assertNotIn(b"Bcc:", got["data"])
        self.assertIn(b'filename="report.csv"', got["data"])

    @in_reactor
    async def test_a_server_whose_certificate_the_ca_did_not_sign_gets_nothing(self):
        controller, mailbox = self.server()
        stranger = CertificateAuthority.create(self.directory / "stranger")
        sender = self.sender(controller.port, ca_file=stranger.ca_file, give_up_hours=0.0001)
        self.assertIs(await sender.outcome(await sender.send(message())), False)
        self.assertEqual(mailbox.messages, [])

    @in_reactor
    async def test_a_server_without_starttls_gets_nothing_unless_plaintext_is_allowed(self):
        controller, mailbox = self.server(starttls=False, auth=False)
        sender = self.sender(controller.port, user=None, give_up_hours=0.0001)
        self.assertIs(await sender.outcome(await sender.send(message())), False)
        allowed = self.sender(controller.port, user=None, allow_plaintext=True)
        self.assertIs(await allowed.outcome(await allowed.send(message())), True)
        self.assertFalse(mailbox.messages[0]["tls"])

    @in_reactor
    async def test_a_password_is_never_sent_in_clear(self):
        controller, mailbox = self.server(starttls=False, auth=True)
        sender = self.sender(controller.port, allow_plaintext=True, give_up_hours=0.0001)
        self.assertIs(await sender.outcome(await sender.send(message())), False)
        self.assertTrue(any("without TLS" in e.get("error", "") for e in sender.log.events()))

    @in_reactor
    async def test_a_refused_recipient_is_given_up_at_once_and_kept_for_the_admin(self):
        controller, mailbox = self.server(mailbox=MailBox(refuse_with="550 5.1.1 no such user"))
        sender = self.sender(controller.port)
        entry_id = await sender.send(message())
        self.assertIs(await sender.outcome(entry_id), False)
        events = sender.log.events()
        self.assertEqual(events[-1]["event"], "gave-up")
        self.assertIn("550", events[-1]["error"])
        self.assertTrue((self.directory / "data" / "mail" / "failed" / f"{entry_id}.eml").exists())

    @in_reactor
    async def test_a_server_that_never_answers_is_retried_then_given_up(self):
        silent = SilentServer()
        self.addCleanup(silent.stop)
        sender = self.sender(silent.port, timeout=1.0, give_up_hours=2.5 / 3600)
        entry_id = await sender.send(message())
        self.assertIs(await sender.outcome(entry_id), False)
        events = [e["event"] for e in sender.log.events()]
        self.assertEqual(events[0], "queued")
        self.assertIn("retry", events)
        self.assertEqual(events[-1], "gave-up")

    @in_reactor
    async def test_a_wrong_password_is_retried_with_a_doubling_pause(self):
        controller, mailbox = self.server()
        self.secrets["smtp/password"] = "wrong"
        sender = self.sender(controller.port, retry_initial=0.1, retry_max=10)
        entry_id = await sender.send(message())
        await eventually(lambda: sum(e["event"] == "retry" for e in sender.log.events()) >= 3)
        pauses = [e["next_in_seconds"] for e in sender.log.events() if e["event"] == "retry"][:3]
        self.assertEqual(pauses, [0.1, 0.2, 0.4])
        self.secrets["smtp/password"] = PASSWORD
        self.assertIs(await sender.outcome(entry_id), True)

    @in_reactor
    async def test_a_message_queued_while_the_relay_is_down_goes_out_after_a_restart(self):
        port = free_port()
        first = self.sender(port, retry_initial=30)
        entry_id = await first.send(message(subject="survivor"))
        await eventually(lambda: any(e["event"] == "retry" for e in first.log.events()))
        first.stop()
        controller, mailbox = start_smtp(self.authority)
        self.addCleanup(controller.stop)
        second = self.sender(controller.port)
        self.assertEqual(await second.start(), 1)
        self.assertIs(await second.outcome(entry_id), True)
        self.assertIn(b"Subject: survivor", mailbox.messages[0]["data"])

    @in_reactor
    async def test_without_a_relay_or_a_recipient_nothing_is_queued(self):
        sender = MailSender(reactor, MailConfig(), data_dir=self.directory / "data")
        with self.assertRaises(MailNotSent):
            await sender.send(message())
        controller, _ = self.server()
        with self.assertRaises(MailNotSent):
            await self.sender(controller.port).send(message(to="not an address"))


class PopBeforeSmtp(LoggedTestCase):
    """A relay that takes mail only after a POP3 login (the POP3 server is Twisted's own,
    over TLS, on this reactor; the SMTP server is aiosmtpd refusing relaying until then)."""

    def setUp(self):
        super().setUp()
        self.directory = Path(tempfile.mkdtemp(prefix="printgate-pop-"))
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.authority = CertificateAuthority.create(self.directory / "ca")
        self.logins = []
        self.pop_port = self.start_pop()

    def start_pop(self):
        from twisted.cred import checkers, portal
        from twisted.internet import ssl
        from twisted.internet.protocol import ServerFactory
        from twisted.mail import pop3
        from zope.interface import implementer

        logins = self.logins

        @implementer(portal.IRealm)
        class Realm:
            def requestAvatar(self, avatar_id, mind, *interfaces):
                logins.append(avatar_id)
                return pop3.IMailbox, pop3.Mailbox(), lambda: None

        checker = checkers.InMemoryUsernamePasswordDatabaseDontUse()
        checker.addUser(USER.encode(), PASSWORD.encode())
        pop_portal = portal.Portal(Realm(), [checker])

        class Factory(ServerFactory):
            def buildProtocol(self, addr):
                protocol = pop3.POP3()
                protocol.portal = pop_portal
                protocol.factory = self
                return protocol

        certificate = self.authority.issue("pop")
        pem = certificate.certificate.read_bytes() + certificate.private_key.read_bytes()
        port = reactor.listenSSL(0, Factory(), ssl.PrivateCertificate.loadPEM(pem).options(),
                                 interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return port.getHost().port

    def sender(self, smtp_port, pop):
        config = MailConfig(host="127.0.0.1", port=smtp_port, user=None, ca_file=self.authority.ca_file,
                            mail_from="printgate@example.org", timeout=5.0, retry_initial=0.2, give_up_hours=0.001,
                            pop_before_smtp=pop)
        sender = MailSender(reactor, config, data_dir=self.directory / "data", secret={"smtp/password": PASSWORD}.get)
        self.addCleanup(sender.stop)
        return sender

    @in_reactor
    async def test_mail_goes_out_after_a_pop_login(self):
        mailbox = MailBox(allowed=lambda peer: bool(self.logins))
        controller, mailbox = start_smtp(self.authority, auth=False, mailbox=mailbox)
        self.addCleanup(controller.stop)
        sender = self.sender(controller.port, {"host": "127.0.0.1", "port": self.pop_port, "security": "tls",
                                               "user": USER, "password_secret": "smtp/password"})
        self.assertIs(await sender.outcome(await sender.send(message())), True, sender.log.events())
        self.assertEqual(self.logins, [USER.encode()])
        self.assertEqual(len(mailbox.messages), 1)

    @in_reactor
    async def test_without_the_pop_login_the_relay_refuses(self):
        controller, mailbox = start_smtp(self.authority, auth=False,
                                         mailbox=MailBox(allowed=lambda peer: bool(self.logins)))
        self.addCleanup(controller.stop)
        sender = self.sender(controller.port, None)
        self.assertIs(await sender.outcome(await sender.send(message())), False)
        self.assertIn("554", sender.log.events()[-1]["error"])
