"""Notifications: the email or webhook a ``notify`` rule asks for, and the note an owner
gets when their held job expires.

A notification is best effort and never holds up or fails intake: the ``Notifier`` is
told about jobs only after they are recorded (and their protocol has acknowledged them),
it sends on a later reactor turn, and every failure is logged, never raised. A webhook is
tried at most ``WebhookPolicy.attempts`` times with a growing pause. Mail goes through
the gateway's one sender (``gateway.mail``), which queues it on disk and retries.

Where a notification goes (``to`` in a rule's notify entry): ``"owner"`` (the owner's
email, looked up in accounting), an email address, or an ``http://``/``https://`` URL.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from twisted.internet import task
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.logger import Logger
from zope.interface import implementer
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent
from twisted.web.iweb import IBodyProducer
from twisted.web.http_headers import Headers

log = Logger()

EVENTS = ("rule", "expired")


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

    def job(self) -> dict:
        """The job as the mail templates show it."""
        return {"id": self.job_id, "title": self.title, "owner": self.owner, "queue": self.queue}


class WebhookFailed(Exception):
    def __init__(self, url: str, status: int):
        super().__init__(f"{url} answered HTTP {status}")
        self.url = url
        self.status = status


class Notifier:
    """Sends notifications on ``reactor``.

    ``notices`` (``gateway.mail.notices.Notices``) mails them; None means no mail is sent
    (webhooks still are). The ``send`` method returns a Deferred that never fails,
    firing with True when the notification was delivered (a webhook) or queued (a mail),
    for tests and callers that want to wait; intake never waits.
    """

    def __init__(self, reactor, *, notices=None, webhook: WebhookPolicy = WebhookPolicy(), agent=None):
        self.reactor = reactor
        self.notices = notices
        self.webhook = webhook
        self.agent = agent if agent is not None else Agent(reactor, connectTimeout=webhook.timeout)

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
        """Tell each owner their held job expired (the ``job_expired`` notice)."""
        if self.notices is None:
            return
        for job in jobs:
            self.reactor.callLater(0, self.notices.job_expired, job)

    # -- sending ------------------------------------------------------------------------
    def send(self, notification: Notification) -> Deferred:
        """Deliver one notification wherever its ``to`` says. Never fails."""
        to = notification.to
        if to.startswith(("http://", "https://")):
            return self.send_webhook(to, notification)
        if to != "owner" and "@" not in to:
            log.warn("notification for job {job_id} not sent: unknown destination {to!r}",
                     job_id=notification.job_id, to=to)
            return succeed(False)
        if self.notices is None:
            log.warn("mail about job {job_id} to {to} not sent: no mail relay configured ([mail] host)",
                     job_id=notification.job_id, to=to)
            return succeed(False)
        values = {"job": notification.job(), "rule": notification.rule, "message": notification.message}
        if to == "owner":
            return self.notices.to_user("rule", notification.owner, **values)
        return self.notices.to_address("rule", to, **values)

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
