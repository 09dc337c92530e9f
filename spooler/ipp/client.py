"""The IPP client the gateway releases jobs with (RFC 8011 client side).

``IppPrinter`` learns what a printer supports (Get-Printer-Attributes), prints a document
(Create-Job + Send-Document when the printer offers them, else Print-Job), and follows
the job (Get-Job-Attributes) until it is completed, canceled or aborted. A document is
given as ``open_document() -> iterable of bytes`` so it is streamed from the spool in
chunks (HTTP chunked encoding) and can be re-read when a busy printer asks us to retry.

Failures are ``IppClientError`` subclasses: ``PrinterBusy`` (after the retries),
``DocumentFormatNotSupported``, ``PrinterClosedEarly``, ``IppStatusError``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Iterable
from urllib.parse import urlsplit

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPullProducer
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from zope.interface import implementer

from spooler.errors import SpoolerError
from spooler.ipp.codec import (
    Attribute, IppDecodeError, Message, Tag, decode_message, encode_message,
)
from spooler.ipp.constants import JobState, Operation, Status
from spooler.ipp.http import HttpError, ResponseParser

log = Logger()

__all__ = [
    "IppPrinter", "JobOptions", "PrintedJob", "IppClientError", "PrinterBusy",
    "DocumentFormatNotSupported", "PrinterClosedEarly", "IppStatusError",
]

TERMINAL_STATES = (JobState.CANCELED, JobState.ABORTED, JobState.COMPLETED)


class IppClientError(SpoolerError):
    """Printing to an IPP printer failed; ``status`` is the printer's IPP status if any."""

    def __init__(self, message: str, *, uri: str, status: int | None = None):
        super().__init__(message)
        self.uri = uri
        self.status = status


class IppStatusError(IppClientError):
    """The printer answered with an error status."""


class PrinterBusy(IppStatusError):
    """server-error-busy (or temporary / not accepting) after every retry."""


class DocumentFormatNotSupported(IppStatusError):
    def __init__(self, message, *, uri, status, document_format, supported=()):
        super().__init__(message, uri=uri, status=status)
        self.document_format = document_format
        self.supported = list(supported)


class PrinterClosedEarly(IppClientError):
    """The connection ended before a complete response arrived."""


@dataclass
class JobOptions:
    job_name: str = ""
    user: str = "printgate"
    copies: int = 1
    sides: str = ""
    color_mode: str = ""
    media: str = ""
    document_format: str = "application/octet-stream"
    extra: list = field(default_factory=list)  # more job attributes (codec.Attribute)


@dataclass
class PrintedJob:
    job_id: int
    job_uri: str
    state: int
    reasons: list
    omitted: list  # options the printer does not support, left out of the request


@implementer(IPullProducer)
class _DocumentProducer:
    """Writes the document as HTTP chunks, one spool chunk each time the transport asks."""

    def __init__(self, transport, chunks: Iterable[bytes], done: Callable[[], None]):
        self.transport = transport
        self.chunks = iter(chunks)
        self.done = done
        self.stopped = False

    def resumeProducing(self):
        if self.stopped:
            return
        for data in self.chunks:
            if data:
                self.transport.write(b"%x\r\n" % len(data) + bytes(data) + b"\r\n")
                return
        self.stopped = True
        self.transport.unregisterProducer()
        self.transport.write(b"0\r\n\r\n")
        self.done()

    def stopProducing(self):
        self.stopped = True


class _Exchange(Protocol):
    """One request and its response on one connection."""

    def __init__(self, head: bytes, ipp: bytes, document: Iterable[bytes] | None):
        self.head = head
        self.ipp = ipp
        self.document = document
        self.parser = ResponseParser()
        self.finished: defer.Deferred = defer.Deferred()
        self.producer: _DocumentProducer | None = None
        self.sent = False

    def connectionMade(self):
        self.transport.write(self.head)
        if self.document is None:
            self.transport.write(b"%x\r\n" % len(self.ipp) + self.ipp + b"\r\n0\r\n\r\n")
            self.sent = True
            return
        self.transport.write(b"%x\r\n" % len(self.ipp) + self.ipp + b"\r\n")
        self.producer = _DocumentProducer(self.transport, self.document, self._sent)
        self.transport.registerProducer(self.producer, False)

    def _sent(self):
        self.sent = True

    def dataReceived(self, data):
        if self.finished.called:
            return
        try:
            response = self.parser.feed(data)
        except HttpError as exc:
            self._fail(exc)
            return
        if response is not None:
            self._complete(response)

    def _complete(self, response):
        if self.producer is not None and not self.producer.stopped:
            # The printer answered before taking the whole document (a refusal).
            self.producer.stopProducing()
            self.transport.unregisterProducer()
        self.finished.callback(response)
        self.transport.loseConnection()

    def _fail(self, exc):
        if not self.finished.called:
            self.finished.errback(exc)
        self.transport.abortConnection()

    def connectionLost(self, reason=ConnectionDone()):
        if self.producer is not None:
            self.producer.stopProducing()
        if self.finished.called:
            return
        try:
            response = self.parser.connection_closed()
        except HttpError as exc:
            response = None
            self.finished.errback(exc)
            return
        if response is not None:
            self.finished.callback(response)
        else:
            self.finished.errback(reason)


class IppPrinter:
    """A printer at ``uri`` (ipp:// or ipps://)."""

    def __init__(self, uri: str, *, reactor, user: str = "printgate", timeout: float = 30.0,
                 tls_options=None, busy_retries: int = 5, busy_delay: float = 2.0,
                 poll_interval: float = 1.0):
        parts = urlsplit(uri)
        if parts.scheme not in ("ipp", "ipps") or not parts.hostname:
            raise ValueError(f"not an ipp URI: {uri!r}")
        self.uri = uri
        self.reactor = reactor
        self.user = user
        self.timeout = timeout
        self.host = parts.hostname
        self.port = parts.port or 631
        self.path = parts.path or "/"
        self.secure = parts.scheme == "ipps"
        self.tls_options = tls_options
        self.busy_retries = busy_retries
        self.busy_delay = busy_delay
        self.poll_interval = poll_interval
        self.attributes: dict[str, Attribute] | None = None
        self._request_ids = itertools.count(1)

    # -- requests --------------------------------------------------------------------------
    def new_request(self, operation: int, user: str | None = None) -> Message:
        message = Message((2, 0), int(operation), next(self._request_ids))
        op = message.add_group(Tag.OPERATION)
        op.add("attributes-charset", Tag.CHARSET, "utf-8")
        op.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
        op.add("printer-uri", Tag.URI, self.uri)
        op.add("requesting-user-name", Tag.NAME, user or self.user)
        return message

    def send(self, message: Message, document: Iterable[bytes] | None = None) -> defer.Deferred:
        """Send one request; fires with the response ``Message`` whatever its status."""
        host_header = self.host if self.port == 631 else f"{self.host}:{self.port}"
        if ":" in self.host:
            host_header = f"[{self.host}]:{self.port}"
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {host_header}\r\n"
                "Content-Type: application/ipp\r\nTransfer-Encoding: chunked\r\n"
                "Connection: close\r\nUser-Agent: Printgate IPP client\r\n\r\n").encode("latin-1")
        exchange = _Exchange(head, encode_message(message), document)
        endpoint = TCP4ClientEndpoint(self.reactor, self.host, self.port, timeout=self.timeout)
        if self.secure:
            from twisted.internet.ssl import optionsForClientTLS
            endpoint = wrapClientTLS(self.tls_options or optionsForClientTLS(self.host), endpoint)
        d = connectProtocol(endpoint, exchange)
        d.addCallback(lambda _: exchange.finished)
        timer = self.reactor.callLater(self.timeout * 4, d.cancel)

        def settle(result):
            if timer.active():
                timer.cancel()
            return result

        d.addBoth(settle)
        d.addCallback(self._decode, message)
        d.addErrback(self._closed_early, message)
        return d

    def _decode(self, response, request: Message) -> Message:
        if response.status != 200:
            raise IppStatusError(f"{self.uri} answered HTTP {response.status} {response.reason}",
                                 uri=self.uri)
        try:
            message, _ = decode_message(response.body)
        except IppDecodeError as exc:
            raise IppClientError(f"{self.uri} sent a malformed IPP response: {exc}", uri=self.uri) from None
        if message.request_id != request.request_id:
            raise IppClientError(f"{self.uri} answered request {message.request_id}, "
                                 f"not {request.request_id}", uri=self.uri)
        return message

    def _closed_early(self, failure, request: Message):
        if failure.check(IppClientError):
            return failure
        raise PrinterClosedEarly(f"{self.uri} closed the connection before answering "
                                 f"({failure.getErrorMessage()})", uri=self.uri)

    def _with_retry(self, make_request: Callable[[], defer.Deferred]) -> defer.Deferred:
        """Retry while the printer says it is busy (server-error-busy / temporary /
        service-unavailable), waiting ``busy_delay`` doubling each time."""
        retryable = (Status.SERVER_ERROR_BUSY, Status.SERVER_ERROR_TEMPORARY_ERROR,
                     Status.SERVER_ERROR_SERVICE_UNAVAILABLE)

        @defer.inlineCallbacks
        def attempt():
            delay = self.busy_delay
            for tries in range(self.busy_retries + 1):
                reply = yield make_request()
                if reply.code not in retryable:
                    return reply
                if tries == self.busy_retries:
                    break
                log.info("printer {uri} busy ({status:#06x}); retrying in {delay} s",
                         uri=self.uri, status=reply.code, delay=delay)
                yield _sleep(self.reactor, delay)
                delay *= 2
            raise PrinterBusy(f"{self.uri} still busy after {self.busy_retries} retries",
                              uri=self.uri, status=reply.code)

        return attempt()

    # -- operations -------------------------------------------------------------------------
    @defer.inlineCallbacks
    def get_printer_attributes(self, requested=("all", "media-col-database")):
        message = self.new_request(Operation.GET_PRINTER_ATTRIBUTES)
        message.groups[0].add("requested-attributes", Tag.KEYWORD, *requested)
        reply = yield self._with_retry(lambda: self.send(message))
        self._check(reply, "Get-Printer-Attributes")
        group = reply.group(Tag.PRINTER)
        self.attributes = {a.name: a for a in group.attributes} if group else {}
        return self.attributes

    def supports(self, name: str, value) -> bool:
        attribute = (self.attributes or {}).get(f"{name}-supported")
        if attribute is None:
            return False
        for v in attribute.values:
            if v.value == value or (v.tag == Tag.RANGE and isinstance(value, int)
                                    and v.value.lower <= value <= v.value.upper):
                return True
            if v.tag == Tag.INTEGER and name == "copies" and isinstance(value, int):
                return 1 <= value <= v.value
        return False

    def operations(self) -> set[int]:
        attribute = (self.attributes or {}).get("operations-supported")
        return set(attribute.python_values()) if attribute else set()

    def job_attributes(self, options: JobOptions) -> tuple[list[Attribute], list[str]]:
        """The job attributes the printer supports; the names of the ones left out."""
        wanted = [("copies", Tag.INTEGER, options.copies if options.copies > 1 else None),
                  ("sides", Tag.KEYWORD, options.sides or None),
                  ("print-color-mode", Tag.KEYWORD, options.color_mode or None),
                  ("media", Tag.KEYWORD, options.media or None)]
        out, omitted = [], []
        for name, tag, value in wanted:
            if value is None:
                continue
            if self.supports(name, value):
                out.append(Attribute.of(name, tag, value))
            else:
                omitted.append(name)
        return out + list(options.extra), omitted

    @defer.inlineCallbacks
    def print_document(self, open_document: Callable[[], Iterable[bytes]], options: JobOptions):
        """Print; fires with ``PrintedJob`` once the printer has accepted the document."""
        if self.attributes is None:
            yield self.get_printer_attributes()
        formats = (self.attributes.get("document-format-supported").python_values()
                   if "document-format-supported" in self.attributes else [])
        document_format = options.document_format
        if formats and document_format not in formats:
            raise DocumentFormatNotSupported(
                f"{self.uri} does not take {document_format}", uri=self.uri,
                status=Status.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
                document_format=document_format, supported=formats)
        job_attrs, omitted = self.job_attributes(options)
        if omitted:
            log.info("printer {uri} does not support {omitted}; left out", uri=self.uri,
                     omitted=omitted)
        two_step = {Operation.CREATE_JOB, Operation.SEND_DOCUMENT} <= self.operations()
        if two_step:
            created = yield self._with_retry(lambda: self.send(self._job_request(
                Operation.CREATE_JOB, options, job_attrs, with_format=False)))
            self._check(created, "Create-Job", document_format)
            job_id = self._job_id(created)

            def send_document():
                message = self.new_request(Operation.SEND_DOCUMENT, options.user)
                op = message.groups[0]
                op.add("job-id", Tag.INTEGER, job_id)
                op.add("document-format", Tag.MIME_MEDIA_TYPE, document_format)
                op.add("last-document", Tag.BOOLEAN, True)
                return self.send(message, open_document())

            reply = yield self._with_retry(send_document)
            try:
                self._check(reply, "Send-Document", document_format)
            except IppClientError:
                yield self.cancel_job(job_id, options.user).addErrback(lambda f: None)
                raise
        else:
            reply = yield self._with_retry(lambda: self.send(self._job_request(
                Operation.PRINT_JOB, options, job_attrs, with_format=True), open_document()))
            self._check(reply, "Print-Job", document_format)
        job = reply.group(Tag.JOB)
        job_id = self._job_id(reply)
        state = job.get("job-state") if job else None
        reasons = job.get("job-state-reasons") if job else None
        uri = job.get("job-uri") if job else None
        log.info("printer {uri} accepted job {job_id} ({name})", uri=self.uri, job_id=job_id,
                 name=options.job_name)
        return PrintedJob(job_id, uri.value if uri else f"{self.uri}/{job_id}",
                          state.value if state else 0,
                          reasons.python_values() if reasons else [], omitted)

    def _job_request(self, operation, options: JobOptions, job_attrs, *, with_format) -> Message:
        message = self.new_request(operation, options.user)
        op = message.groups[0]
        if options.job_name:
            op.add("job-name", Tag.NAME, options.job_name[:255])
        if with_format:
            op.add("document-format", Tag.MIME_MEDIA_TYPE, options.document_format)
        op.add("ipp-attribute-fidelity", Tag.BOOLEAN, False)
        if job_attrs:
            message.add_group(Tag.JOB).attributes.extend(job_attrs)
        return message

    def _job_id(self, reply: Message) -> int:
        job = reply.group(Tag.JOB)
        attribute = job.get("job-id") if job else None
        if attribute is None or attribute.tag != Tag.INTEGER:
            raise IppClientError(f"{self.uri} returned no job-id", uri=self.uri, status=reply.code)
        return attribute.value

    def _check(self, reply: Message, what: str, document_format: str | None = None) -> None:
        if reply.code < 0x0100:
            return
        message = reply.group(Tag.OPERATION).get("status-message") if reply.group(Tag.OPERATION) else None
        try:
            keyword = Status(reply.code).keyword
        except ValueError:
            keyword = f"status {reply.code:#06x}"
        text = f"{what} to {self.uri} failed: {keyword}"
        if message is not None:
            text += f" ({message.value})"
        if reply.code == Status.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED:
            raise DocumentFormatNotSupported(text, uri=self.uri, status=reply.code,
                                             document_format=document_format or "")
        raise IppStatusError(text, uri=self.uri, status=reply.code)

    @defer.inlineCallbacks
    def get_job_attributes(self, job_id: int, user: str | None = None,
                           requested=("job-state", "job-state-reasons", "job-impressions-completed",
                                      "job-state-message")):
        message = self.new_request(Operation.GET_JOB_ATTRIBUTES, user)
        message.groups[0].add("job-id", Tag.INTEGER, job_id)
        message.groups[0].add("requested-attributes", Tag.KEYWORD, *requested)
        reply = yield self._with_retry(lambda: self.send(message))
        self._check(reply, "Get-Job-Attributes")
        group = reply.group(Tag.JOB)
        return {a.name: (a.value if len(a.values) == 1 else a.python_values())
                for a in (group.attributes if group else [])}

    @defer.inlineCallbacks
    def wait_for_job(self, job_id: int, user: str | None = None, *, timeout: float = 600.0):
        """Poll Get-Job-Attributes until the job is completed, canceled or aborted."""
        waited = 0.0
        while True:
            attributes = yield self.get_job_attributes(job_id, user)
            if attributes.get("job-state") in TERMINAL_STATES:
                return attributes
            if waited >= timeout:
                raise IppClientError(f"job {job_id} on {self.uri} not finished after {timeout} s",
                                     uri=self.uri)
            yield _sleep(self.reactor, self.poll_interval)
            waited += self.poll_interval

    def cancel_job(self, job_id: int, user: str | None = None) -> defer.Deferred:
        message = self.new_request(Operation.CANCEL_JOB, user)
        message.groups[0].add("job-id", Tag.INTEGER, job_id)
        return self.send(message)


def _sleep(reactor, seconds: float) -> defer.Deferred:
    d = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d
