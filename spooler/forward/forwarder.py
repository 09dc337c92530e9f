"""Release = forward: send a held job to the device the user stands at, with retries.

``Forwarder.forward(job, target)`` returns a Deferred that always fires with a
``ForwardOutcome`` (never errbacks): accepted only when the device acknowledged every byte.
Senders are looked up by protocol in ``SENDERS``; each has the ``Sender`` signature, so the
IPP client (``spooler/ipp/client.py``, written separately) plugs in with
``register_sender("ipp", send_ipp)`` where it maps ``ForcedChanges`` to IPP attributes
(``print-color-mode=monochrome``, ``sides=two-sided-long-edge``) instead of injecting.

Only failures before any document byte reached the printer are retried (refused
connection, connect timeout, LPD queue refusal): a retry after a partial document could
print the job twice. Backoff waits run on the given clock, so tests use ``task.Clock``.
"""
from __future__ import annotations

import itertools
import random
import socket
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

from twisted.internet import defer, threads
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.error import ConnectError, ConnectingCancelledError, TimeoutError as ConnectTimeoutError
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from spooler.forward.capabilities import PrinterCapabilities
from spooler.forward.errors import (
    ForwardError, ForwardTimeout, PrinterUnreachable, UnsupportedProtocol,
)
from spooler.forward.job import AttemptResult, ForwardJob, ForwardOutcome, PrinterTarget
from spooler.forward.lpd_client import (
    LpdJobNames, LpdSendProtocol, LpdTimeouts, build_control_file, lpd_host_name,
)
from spooler.forward.payload import JobPayload
from spooler.forward.raw_client import RawSendProtocol, RawTimeouts

log = Logger()


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` connections at most; waits of ``initial_delay * factor**n`` capped
    at ``max_delay``; nothing new starts after ``deadline`` seconds from the first try."""

    max_attempts: int = 4
    initial_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 15.0
    deadline: float = 60.0

    def delay(self, failed_attempts: int) -> float:
        return min(self.max_delay, self.initial_delay * self.factor ** (failed_attempts - 1))


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    lpd: LpdTimeouts = field(default_factory=LpdTimeouts)
    raw: RawTimeouts = field(default_factory=RawTimeouts)
    #: IPP: how long a printer may take to report a sent job completed.
    ipp_job: float = 300.0


@dataclass
class SendContext:
    """What every sender is given: the clock/reactor, how to connect, timeouts, and where
    to run a blocking pass over the spool (a thread in production, inline in tests)."""

    reactor: object
    connect: Callable[[PrinterTarget, Factory, float], defer.Deferred]
    timeouts: Timeouts
    run_blocking: Callable[[Callable[[], object]], defer.Deferred]
    gateway_host: str
    job_numbers: "itertools.count[int]"
    #: What IPP printers support, asked once and kept a while (``PrinterCapabilities``).
    capabilities: object = None


class Sender(Protocol):
    def __call__(self, context: SendContext, job: ForwardJob, target: PrinterTarget) -> defer.Deferred:
        """Fire with ``AttemptResult`` once the device acknowledged the job; errback with a
        ``ForwardError``."""


def connect_tcp(reactor, target: PrinterTarget, factory: Factory, timeout: float) -> defer.Deferred:
    endpoint = HostnameEndpoint(reactor, target.host, target.effective_port, timeout=timeout)
    return endpoint.connect(factory)


class _OneShotFactory(Factory):
    def __init__(self, build):
        self._build = build

    def buildProtocol(self, addr):
        return self._build()


def _connect(context: SendContext, target: PrinterTarget, build) -> tuple[defer.Deferred, defer.Deferred]:
    """Connect with ``build`` as the protocol; the second Deferred fires with the
    protocol's result. A failed connect is mapped to ``PrinterUnreachable``/timeout."""
    result: defer.Deferred = defer.Deferred()

    def on_result(value):
        if isinstance(value, BaseException):
            result.errback(value)
        else:
            result.callback(value)

    connecting = context.connect(target, _OneShotFactory(lambda: build(on_result)), context.timeouts.connect)

    def connect_failed(failure):
        if failure.check(ConnectTimeoutError):
            result.errback(ForwardTimeout(f"connecting to {target.describe()} timed out", stage="connect",
                                          seconds=context.timeouts.connect, target=target.describe(),
                                          before_document=True))
        elif failure.check(ConnectError, ConnectingCancelledError, socket.gaierror, OSError):
            result.errback(PrinterUnreachable(
                f"cannot connect to {target.describe()}: {failure.getErrorMessage()}", target=target.describe()))
        else:
            result.errback(failure)

    connecting.addErrback(connect_failed)
    return connecting, result


def send_lpd(context: SendContext, job: ForwardJob, target: PrinterTarget) -> defer.Deferred:
    """Copies are asked for the LPD way, one ``l`` line each (or, with
    ``copies_in_data``, the data repeated); forced settings are written into the job."""
    copies_in_data = job.copies_in_data and job.copies > 1
    payload = JobPayload(job, repeat=job.copies if copies_in_data else 1, forced=replace(job.forced, copies=1))
    names = LpdJobNames(number=next(context.job_numbers) % 1000, host=lpd_host_name(context.gateway_host))
    control = build_control_file(names, user=job.user, title=job.title,
                                 copies_lines=1 if copies_in_data else job.copies)

    def measured(length: int):
        def build(on_result):
            return LpdSendProtocol(queue=target.queue, names=names, control_file=control, data_length=length,
                                   chunks=payload.chunks(), clock=context.reactor, timeouts=context.timeouts.lpd,
                                   on_result=on_result, target=target.describe())
        return _connect(context, target, build)[1]

    return context.run_blocking(payload.measure).addCallback(measured)


def send_raw(context: SendContext, job: ForwardJob, target: PrinterTarget) -> defer.Deferred:
    """RAW has no words for copies: they are written into the job (PJL ``QTY``,
    PostScript ``NumCopies``), so that the printer makes them as copies — each starting on
    a sheet of its own — and a PDF, which a printer reads once however often it is
    repeated, is printed as often as it was charged."""
    payload = JobPayload(job, forced=replace(job.forced, copies=job.copies))
    total = job.length if job.length is not None and not payload.transformed else None

    def build(on_result):
        return RawSendProtocol(chunks=payload.chunks(), total_length=total, clock=context.reactor,
                               timeouts=context.timeouts.raw, on_result=on_result, target=target.describe())

    return _connect(context, target, build)[1]


def send_ipp_unavailable(context: SendContext, job: ForwardJob, target: PrinterTarget) -> defer.Deferred:
    """What ``SENDERS["ipp"]`` is until ``spooler.forward`` registers ``ipp_sender.send_ipp``."""
    return defer.fail(UnsupportedProtocol("ipp"))


#: Protocol name -> sender. The IPP client replaces the placeholder via ``register_sender``.
SENDERS: dict[str, Sender] = {"lpd": send_lpd, "raw": send_raw, "ipp": send_ipp_unavailable}


def register_sender(protocol: str, sender: Sender) -> None:
    SENDERS[protocol] = sender


class Forwarder:
    def __init__(self, reactor, *, retry: RetryPolicy = RetryPolicy(), timeouts: Timeouts = Timeouts(),
                 senders: dict[str, Sender] | None = None, connect=None, run_blocking=None,
                 gateway_host: str | None = None, capabilities: PrinterCapabilities | None = None):
        self.reactor = reactor
        self.retry = retry
        self.senders = senders if senders is not None else SENDERS
        self.capabilities = capabilities if capabilities is not None else PrinterCapabilities(
            reactor, timeout=timeouts.connect)
        if run_blocking is None:
            def run_blocking(function):
                return threads.deferToThreadPool(reactor, reactor.getThreadPool(), function)
        self.context = SendContext(
            reactor=reactor,
            connect=connect or (lambda target, factory, timeout: connect_tcp(reactor, target, factory, timeout)),
            timeouts=timeouts,
            run_blocking=run_blocking,
            gateway_host=gateway_host or socket.gethostname(),
            job_numbers=itertools.count(random.randrange(1000)),
            capabilities=self.capabilities,
        )

    @defer.inlineCallbacks
    def forward(self, job: ForwardJob, target: PrinterTarget):
        where = target.describe()
        sender = self.senders.get(target.protocol)
        started = self.reactor.seconds()
        attempt = 0
        wall = time.monotonic()
        while True:
            attempt += 1
            try:
                if sender is None:
                    raise UnsupportedProtocol(target.protocol)
                result: AttemptResult = yield defer.maybeDeferred(sender, self.context, job, target)
            except ForwardError as error:
                elapsed = self.reactor.seconds() - started
                delay = self.retry.delay(attempt)
                if error.retryable and attempt < self.retry.max_attempts and elapsed + delay < self.retry.deadline:
                    log.info("Forwarding job {job_id} to {target} failed ({kind}: {reason}); attempt {attempt} "
                             "of {max_attempts}, next in {delay:.1f} s", job_id=job.job_id, target=where,
                             kind=error.kind, reason=str(error), attempt=attempt,
                             max_attempts=self.retry.max_attempts, delay=delay)
                    yield _sleep(self.reactor, delay)
                    continue
                log.warn("Forwarding job {job_id} to {target} failed for good ({kind}: {reason}) after "
                         "{attempts} attempts, {bytes_sent} bytes sent", job_id=job.job_id, target=where,
                         kind=error.kind, reason=str(error), attempts=attempt, bytes_sent=error.bytes_sent)
                return ForwardOutcome(job_id=job.job_id, target=where, accepted=False, attempts=attempt,
                                      bytes_sent=error.bytes_sent, total_bytes=getattr(error, "total_bytes", None),
                                      kind=error.kind, reason=str(error), error=error)
            except Exception as error:
                # The spool could not be read (SpoolCorrupt) or something unforeseen broke.
                log.failure("Forwarding job {job_id} to {target} broke", job_id=job.job_id, target=where)
                return ForwardOutcome(job_id=job.job_id, target=where, accepted=False, attempts=attempt,
                                      bytes_sent=0, kind="source-error", reason=str(error) or type(error).__name__)
            log.info("Job {job_id} forwarded to {target}: {bytes_sent} bytes, sha256 {sha256}, confirmed by "
                     "{confirmed_by}, attempt {attempt}, {seconds:.3f} s", job_id=job.job_id, target=where,
                     bytes_sent=result.bytes_sent, sha256=result.sha256, confirmed_by=result.confirmed_by,
                     attempt=attempt, seconds=time.monotonic() - wall)
            return ForwardOutcome(job_id=job.job_id, target=where, accepted=True, attempts=attempt,
                                  bytes_sent=result.bytes_sent, total_bytes=result.bytes_sent,
                                  sha256=result.sha256, confirmed_by=result.confirmed_by)


def _sleep(clock, seconds: float) -> defer.Deferred:
    from twisted.internet import task
    return task.deferLater(clock, seconds, lambda: None)
