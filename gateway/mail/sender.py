"""The one mail sender of the gateway: every notice, and scheduled reports, go out here.

``send(message) -> Deferred[str]``: the message (an ``email.message.EmailMessage``, with
attachments if it has them) is written to the queue on disk, in the thread pool, and the
Deferred fires with its queue id once it is there; it then goes out on the reactor,
retried with a doubling pause (``retry_initial`` .. ``retry_max``) until delivered, until
the server refuses it for good (a 5xx answer), or until it is ``give_up_hours`` old.
Every step is a line of the delivery log. ``outcome(id)`` fires with True (delivered) or
False (given up). After a restart the queue is read again and sending resumes.
"""
from __future__ import annotations

import time
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

from twisted.internet.defer import Deferred, fail, inlineCallbacks
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.mail.smtp import SMTPClientError, SMTPDeliveryError

from gateway.mail.delivery_log import DeliveryLog
from gateway.mail.pop import PopTarget, pop_login
from gateway.mail.queue import MailQueue, QueuedMail
from gateway.mail.smtp import SmtpTarget, deliver
from printgate_errors import PrintgateError

log = Logger()

MAX_MESSAGE_BYTES = 25 * 1024 * 1024


class MailNotSent(PrintgateError):
    """The message cannot be queued at all (no relay, no recipient, too big, queue full)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class MailSender:
    def __init__(self, reactor, config, *, data_dir: Path, secret=None, threadpool=None):
        """``config``: ``spooler.config.MailConfig``. ``secret(name)`` returns a stored
        secret or None (read at each attempt, so a new password counts at once)."""
        self.reactor = reactor
        self.config = config
        self.secret = secret or (lambda name: None)
        self.threadpool = threadpool if threadpool is not None else reactor.getThreadPool()
        self.queue = MailQueue(Path(data_dir) / "mail" / "queue", max_messages=config.max_queue)
        self.log = DeliveryLog(Path(data_dir) / "mail" / "delivery.log")
        self._timers = {}
        self._sending = set()
        self._waiting: dict[str, list[Deferred]] = {}
        self.stopped = False

    @property
    def configured(self) -> bool:
        return bool(self.config.host)

    def _thread(self, function, *args, **kwargs) -> Deferred:
        return deferToThreadPool(self.reactor, self.threadpool, function, *args, **kwargs)

    # -- the API ------------------------------------------------------------------------
    def send(self, message: EmailMessage) -> Deferred:
        if not self.configured:
            log.warn("mail {subject!r} not sent: no relay configured ([mail] host)", subject=message["Subject"])
            return fail(MailNotSent("no mail relay configured ([mail] host)"))
        if message["From"] is None:
            message["From"] = self.config.mail_from
        if message["Date"] is None:
            message["Date"] = formatdate(localtime=False)
        if message["Message-ID"] is None:
            message["Message-ID"] = make_msgid("printgate")
        recipients = [address for _, address in getaddresses(message.get_all("To", []) + message.get_all("Cc", [])
                                                              + message.get_all("Bcc", [])) if "@" in address]
        del message["Bcc"]
        if not recipients:
            return fail(MailNotSent("the message has no recipient"))
        data = message.as_bytes()
        if len(data) > MAX_MESSAGE_BYTES:
            return fail(MailNotSent(f"the message is {len(data)} bytes; at most {MAX_MESSAGE_BYTES} are sent"))
        sender = getaddresses([self.config.mail_from])[0][1] or self.config.mail_from
        subject = str(message["Subject"] or "")

        def queued(entry: QueuedMail):
            self._schedule(entry, 0)
            return entry.id

        def refused(failure):
            raise MailNotSent(f"the message could not be queued: {failure.getErrorMessage()}")

        return self._thread(self._enqueue, sender, recipients, subject, data).addCallbacks(queued, refused)

    def _enqueue(self, sender, recipients, subject, data) -> QueuedMail:
        entry = self.queue.add(sender, recipients, subject, data)
        self.log.write("queued", entry)
        return entry

    def _settle(self, step, entry: QueuedMail, event: str, **details) -> None:
        """In a thread: change the queue (``step``), then log the event."""
        step(entry)
        self.log.write(event, entry, **details)

    def outcome(self, entry_id: str) -> Deferred:
        deferred = Deferred()
        self._waiting.setdefault(entry_id, []).append(deferred)
        return deferred

    def start(self) -> Deferred:
        """Resume what the queue holds (after a restart)."""
        def resume(entries):
            for entry in entries:
                self._schedule(entry, max(0.0, entry.next_attempt - time.time()))
            if entries:
                log.info("mail queue: {count} message(s) waiting from before", count=len(entries))
            return len(entries)
        return self._thread(self.queue.entries).addCallback(resume)

    def stop(self) -> None:
        self.stopped = True
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()

    # -- delivery -------------------------------------------------------------------------
    def _schedule(self, entry: QueuedMail, delay: float) -> None:
        if self.stopped:
            return
        previous = self._timers.pop(entry.id, None)
        if previous is not None and previous.active():
            previous.cancel()
        self._timers[entry.id] = self.reactor.callLater(delay, self._attempt, entry)

    def target(self) -> SmtpTarget:
        """The relay as the next attempt reaches it (the password read from the store
        now, so a changed secret counts without a restart)."""
        config = self.config
        password = self.secret(config.password_secret) if config.user else None
        return SmtpTarget(host=config.host, port=config.smtp_port, security=config.security,
                          allow_plaintext=config.allow_plaintext,
                          ca_file=str(config.ca_file) if config.ca_file else None, user=config.user,
                          password=password, mechanisms=tuple(config.auth_mechanisms), timeout=config.timeout)

    def _pop_target(self) -> PopTarget | None:
        pop = self.config.pop_before_smtp
        if not pop:
            return None
        user = pop.get("user") or self.config.user
        password = self.secret(pop.get("password_secret") or self.config.password_secret)
        return PopTarget(host=pop["host"], port=pop["port"], security=pop["security"], user=user or "",
                         password=password or "", ca_file=str(self.config.ca_file) if self.config.ca_file else None,
                         timeout=self.config.timeout)

    @inlineCallbacks
    def _attempt(self, entry: QueuedMail):
        self._timers.pop(entry.id, None)
        if entry.id in self._sending or self.stopped:
            return
        self._sending.add(entry.id)
        try:
            data = yield self._thread(self.queue.message, entry.id)
            target = self.target()
            pop = self._pop_target()
            if pop is not None:
                yield pop_login(self.reactor, pop)
            yield deliver(self.reactor, target, entry.sender, entry.recipients, data)
        except Exception as exc:  # noqa: BLE001 - every failure is logged and retried or given up
            yield self._failed(entry, exc)
        else:
            yield self._thread(self._settle, lambda e: self.queue.remove(e.id), entry, "delivered",
                               attempts=entry.attempts + 1, server=f"{target.host}:{target.port}")
            log.info("mail {id} ({subject!r}) delivered to {to}", id=entry.id, subject=entry.subject,
                     to=", ".join(entry.recipients))
            self._finish(entry.id, True)
        finally:
            self._sending.discard(entry.id)

    @inlineCallbacks
    def _failed(self, entry: QueuedMail, exc: Exception):
        entry.attempts += 1
        code = getattr(exc, "code", None)
        error = _describe(exc)
        entry.last_error = error
        # The server refused the sender, a recipient or the message for good. A refused
        # login or missing TLS is the relay's configuration: retried until fixed or too old.
        permanent = isinstance(exc, SMTPDeliveryError) and isinstance(code, int) and 500 <= code < 600
        age = time.time() - entry.created_at
        if permanent or age >= self.config.give_up_hours * 3600:
            yield self._thread(self._settle, self.queue.give_up, entry, "gave-up", attempts=entry.attempts,
                               error=error)
            log.warn("mail {id} ({subject!r}) to {to} given up after {attempts} attempt(s): {error}", id=entry.id,
                     subject=entry.subject, to=", ".join(entry.recipients), attempts=entry.attempts, error=error)
            self._finish(entry.id, False)
            return
        delay = min(self.config.retry_initial * 2 ** (entry.attempts - 1), self.config.retry_max)
        entry.next_attempt = time.time() + delay
        yield self._thread(self._settle, self.queue.save, entry, "retry", attempts=entry.attempts, error=error,
                           next_in_seconds=round(delay, 1))
        log.warn("mail {id} to {to} not delivered (attempt {attempts}): {error}; next try in {delay:.0f} s",
                 id=entry.id, to=", ".join(entry.recipients), attempts=entry.attempts, error=error, delay=delay)
        self._schedule(entry, delay)

    def _finish(self, entry_id: str, delivered: bool) -> None:
        for deferred in self._waiting.pop(entry_id, []):
            deferred.callback(delivered)


def _describe(exc: Exception) -> str:
    if isinstance(exc, SMTPClientError):
        text = exc.resp.decode("utf-8", "replace") if isinstance(exc.resp, bytes) else str(exc.resp)
        return f"{exc.code} {text}".strip()
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
