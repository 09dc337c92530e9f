"""Notifications: the email or webhook a ``notify`` rule asks for, and the note an owner
gets when their held job expires.

A notification is best effort and never holds up or fails intake: the ``Notifier`` is
told about jobs only after they are recorded (and their protocol has acknowledged them),
it sends on a later reactor turn, and every failure is logged, never raised. A webhook is
tried at most ``WebhookPolicy.attempts`` times with a growing pause; a mail once.

Where a notification goes (``to`` in a rule's notify entry): ``"owner"`` (the owner's
email, looked up in accounting), an email address, or an ``http://``/``https://`` URL.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from io import BytesIO

from twisted.internet import task
from twisted.internet.defer import Deferred, fail, inlineCallbacks, maybeDeferred, succeed
from twisted.logger import Logger
from zope.interface import implementer
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent
from twisted.web.iweb import IBodyProducer
from twisted.web.http_headers import Headers

log = Logger()

EVENTS = ("rule", "expired")


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail relay. With ``starttls`` (the default) a server that does
    not offer STARTTLS, or whose certificate does not verify (against ``ca_file`` when
    given, else the system trust store), gets nothing."""

    host: str
    mail_from: str
    port: int = 25
    starttls: bool = True
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class WebhookPolicy:
    """Per try: ``timeout`` seconds for the whole request; between tries ``backoff``,
    doubled each time."""

    attempts: int = 3
    timeout: float = 10.0
    backoff: float = 1.0


@dataclass(frozen=True)
class Notification:
    """One message about one job, to one destination."""

    event: str  # one of EVENTS
    job_id: int
    owner: str
    title: str
    queue: str
    to: str
    rule: str = ""
    message: str = ""

    def payload(self) -> dict:
        """The webhook's JSON body."""
        return {"event": self.event, "job_id": self.job_id, "owner": self.owner, "title": self.title,
                "queue": self.queue, "rule": self.rule, "message": self.message}

    def subject(self) -> str:
        if self.event == "expired":
            return f"Your print job {self.title or self.job_id} expired"
        return f"Print job {self.title or self.job_id} of {self.owner}"

    def text(self) -> str:
        lines = [self.message] if self.message else []
        lines += ["", f"Job: {self.job_id} ({self.title or 'untitled'})", f"Owner: {self.owner}",
                  f"Queue: {self.queue}"]
        if self.rule:
            lines.append(f"Rule: {self.rule}")
        return "\n".join(lines).strip() + "\n"


class WebhookFailed(Exception):
    def __init__(self, url: str, status: int):
        super().__init__(f"{url} answered HTTP {status}")
        self.url = url
        self.status = status


class Notifier:
    """Sends notifications on ``reactor``.

    ``lookup_email(username)`` returns a Deferred firing with the user's email or None
    (the gateway runs it in accounting's thread pool). ``smtp`` None means no mail can be
    sent (webhooks still are). The ``send_*`` methods return Deferreds that never fail,
    firing with True when the notification was delivered, for tests and callers that
    want to wait; intake never waits.
    """

    def __init__(self, reactor, *, lookup_email, smtp: SmtpSettings | None = None,
                 webhook: WebhookPolicy = WebhookPolicy(), notify_owner_on_expiry: bool = False, agent=None):
        self.reactor = reactor
        self.lookup_email = lookup_email
        self.smtp = smtp
        self.webhook = webhook
        self.notify_owner_on_expiry = notify_owner_on_expiry
        self.agent = agent if agent is not None else Agent(reactor, connectTimeout=webhook.timeout)
        self._trust_root = None

    # -- what the gateway calls ---------------------------------------------------------
    def job_recorded(self, job, entries) -> None:
        """A recorded job's decision asked for ``entries`` (``{"rule", "to", "message"}``).
        Sent on a later reactor turn, so after the protocol's acknowledgement."""
        for entry in entries:
            notification = Notification(
                event="rule", job_id=job.id, owner=job.owner, title=job.title, queue=job.queue,
                to=str(entry.get("to") or "owner"), rule=str(entry.get("rule", "")),
                message=str(entry.get("message", "")))
            self.reactor.callLater(0, self.send, notification)

    def jobs_expired(self, jobs) -> None:
        """Tell each owner their held job expired, when so configured."""
        if not self.notify_owner_on_expiry:
            return
        for job in jobs:
            notification = Notification(
                event="expired", job_id=job.id, owner=job.owner, title=job.title, queue=job.queue, to="owner",
                message=f"Your print job {job.title or job.id} was not released in time and has been deleted.")
            self.reactor.callLater(0, self.send, notification)

    # -- sending ------------------------------------------------------------------------
    def send(self, notification: Notification) -> Deferred:
        """Deliver one notification wherever its ``to`` says. Never fails."""
        to = notification.to
        if to.startswith(("http://", "https://")):
            deferred = self.send_webhook(to, notification)
        elif to == "owner":
            deferred = self._send_to_owner(notification)
        elif "@" in to:
            deferred = self.send_mail(to, notification)
        else:
            log.warn("notification for job {job_id} not sent: unknown destination {to!r}",
                     job_id=notification.job_id, to=to)
            deferred = succeed(False)
        return deferred

    @inlineCallbacks
    def _send_to_owner(self, notification: Notification):
        try:
            address = yield maybeDeferred(self.lookup_email, notification.owner)
        except Exception as exc:  # noqa: BLE001
            log.warn("notification for job {job_id} not sent: looking up {owner}'s email failed: {error}",
                     job_id=notification.job_id, owner=notification.owner, error=exc)
            return False
        if not address:
            log.info("notification for job {job_id} not sent: {owner} has no email address",
                     job_id=notification.job_id, owner=notification.owner)
            return False
        sent = yield self.send_mail(address, notification)
        return sent

    def send_mail(self, address: str, notification: Notification) -> Deferred:
        """One try; the outcome is logged. Fires with True when the relay accepted it."""
        if self.smtp is None:
            log.warn("mail about job {job_id} to {to} not sent: no SMTP relay configured ([notify] smtp_host)",
                     job_id=notification.job_id, to=address)
            return succeed(False)
        try:
            deferred = self._smtp_send(address, self._message(address, notification))
        except Exception as exc:  # noqa: BLE001
            deferred = Deferred()
            deferred.errback(exc)

        def sent(_):
            log.info("mail about job {job_id} ({event}) sent to {to}", job_id=notification.job_id,
                     event=notification.event, to=address)
            return True

        def failed(failure):
            log.warn("mail about job {job_id} ({event}) to {to} via {host}:{port} failed: {error}",
                     job_id=notification.job_id, event=notification.event, to=address, host=self.smtp.host,
                     port=self.smtp.port, error=failure.getErrorMessage() or failure.type.__name__)
            return False

        return deferred.addCallbacks(sent, failed)

    def send_message(self, message: EmailMessage) -> Deferred:
        """Send a whole message (attachments and all) to its To and Cc addresses. Fires
        with None when the relay took it; fails when it did not, or no relay is configured
        (the caller — the scheduler — retries and logs). Missing From/Date headers are
        filled in."""
        from email.utils import getaddresses

        if self.smtp is None:
            return fail(RuntimeError("no SMTP relay configured ([notify] smtp_host)"))
        if "From" not in message:
            message["From"] = self.smtp.mail_from
        if "Date" not in message:
            message["Date"] = formatdate(localtime=False)
        recipients = [address for _, address in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
                      if address]
        if not recipients:
            return fail(ValueError("the message has no recipient"))
        try:
            return self._smtp_send(recipients, message.as_bytes()).addCallback(lambda _: None)
        except Exception:  # noqa: BLE001
            return fail()

    def _message(self, address: str, notification: Notification) -> bytes:
        message = EmailMessage()
        message["From"] = self.smtp.mail_from
        message["To"] = address
        message["Subject"] = notification.subject()
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid("printgate")
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(notification.text())
        return message.as_bytes()

    def _smtp_send(self, address, message: bytes) -> Deferred:
        """``address``: one address or a list of them."""
        from twisted.internet.ssl import optionsForClientTLS
        from twisted.mail.smtp import ESMTPSenderFactory

        smtp = self.smtp
        result = Deferred()
        context = optionsForClientTLS(smtp.host, trustRoot=self._trust()) if smtp.starttls else None
        user = smtp.user.encode() if smtp.user else None
        password = smtp.password.encode() if smtp.password is not None else None
        factory = ESMTPSenderFactory(
            user, password, smtp.mail_from, list(address) if isinstance(address, list) else [address],
            BytesIO(message), result, retries=0,
            timeout=smtp.timeout, contextFactory=context, heloFallback=True,
            requireAuthentication=bool(smtp.user), requireTransportSecurity=smtp.starttls, hostname=smtp.host,
        )
        connector = self.reactor.connectTCP(smtp.host, smtp.port, factory, timeout=smtp.timeout)

        def give_up(outcome, timeout):
            factory.sendFinished = True
            if factory.currentProtocol is not None:
                factory.currentProtocol.transport.abortConnection()
            else:
                connector.disconnect()
            raise TimeoutError(f"{smtp.host}:{smtp.port} did not take the mail within {timeout} s")

        # The protocol times out each answer after smtp.timeout; this bounds the whole exchange.
        result.addTimeout(3 * smtp.timeout, self.reactor, onTimeoutCancel=give_up)
        return result

    def _trust(self):
        if self.smtp.ca_file is None:
            return None  # the platform trust store
        if self._trust_root is None:
            from twisted.internet.ssl import Certificate

            with open(self.smtp.ca_file, "rb") as f:
                self._trust_root = Certificate.loadPEM(f.read())
        return self._trust_root

    @inlineCallbacks
    def send_webhook(self, url: str, notification: Notification):
        """POST the JSON payload; up to ``attempts`` tries for connection errors,
        timeouts and 5xx answers, none more for a 4xx. Fires with True on a 2xx."""
        body = json.dumps(notification.payload()).encode()
        policy = self.webhook
        pause = policy.backoff
        for attempt in range(1, policy.attempts + 1):
            try:
                yield self._post(url, body)
            except WebhookFailed as exc:
                error, retry = str(exc), exc.status >= 500
            except Exception as exc:  # noqa: BLE001
                error, retry = f"{type(exc).__name__}: {exc}", True
            else:
                log.info("webhook for job {job_id} ({event}) delivered to {url}", job_id=notification.job_id,
                         event=notification.event, url=url)
                return True
            log.warn("webhook for job {job_id} ({event}) to {url} failed (try {attempt} of {attempts}): {error}",
                     job_id=notification.job_id, event=notification.event, url=url, attempt=attempt,
                     attempts=policy.attempts, error=error)
            if not retry or attempt == policy.attempts:
                break
            yield task.deferLater(self.reactor, pause, lambda: None)
            pause *= 2
        return False

    @inlineCallbacks
    def _post(self, url: str, body: bytes):
        headers = Headers({b"Content-Type": [b"application/json"], b"User-Agent": [b"Printgate"]})
        request = self.agent.request(b"POST", url.encode(), headers, _BytesBody(body))
        request.addTimeout(self.webhook.timeout, self.reactor)
        response = yield request
        reading = Deferred()
        response.deliverBody(_Discard(reading))
        reading.addTimeout(self.webhook.timeout, self.reactor)
        yield reading
        if not 200 <= response.code < 300:
            raise WebhookFailed(url, response.code)


@implementer(IBodyProducer)
class _BytesBody:
    """A request body already in memory, written at once (no cooperator: the notifier
    runs on whatever reactor it is given)."""

    def __init__(self, body: bytes):
        self.body = body
        self.length = len(body)

    def startProducing(self, consumer):
        consumer.write(self.body)
        return succeed(None)

    def pauseProducing(self):
        pass

    def resumeProducing(self):
        pass

    def stopProducing(self):
        pass


class _Discard(Protocol):
    """Reads a webhook's answer to its end (only the status matters)."""

    def __init__(self, finished: Deferred):
        self.finished = finished

    def dataReceived(self, data):
        pass

    def connectionLost(self, reason=None):
        if not self.finished.called:
            self.finished.callback(None)
