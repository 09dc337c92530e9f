"""The Twisted shell of the IPP server: bytes in, ``RequestParser`` and ``IppService`` decide.

Per request: the HTTP head (answering ``100 Continue`` at once), the IPP attributes
(bounded), then the document streamed through ``DocumentBody`` into the intake pipeline.
A response is written once the request body has ended (keep-alive); an error found
while a body is still arriving is answered at once and the connection is closed.

Time and connection limits (``spooler.ipp.limits``): each connection is in one phase —
``idle`` (connected or between requests), ``head``, ``body`` or ``busy`` (the gateway's
turn, no client timer) — with one timer for it; the factory counts connections in total
and per address across port 631 and ipps://.
"""
from __future__ import annotations

from collections import deque

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool
from twisted.logger import Logger

from spooler.ipp.codec import (
    IppDecodeError, Limits, Message, MessageAccumulator, encode_message,
)
from spooler.ipp.constants import Status
from spooler.prompt_write import write_now
from spooler.read_size import widen_reads
from spooler.errors import ExpandsTooMuch, JobTooLarge
from spooler.ipp.document import Decompressor, DocumentBody, Inflation
from spooler.ipp.http import (
    BodyData, EndOfRequest, HttpError, RequestHead, RequestParser, format_response_head,
)
from spooler.connection_caps import ConnectionCaps
from spooler.ipp.limits import ConnectionLimits, limits_from_config
from spooler.ipp.operations import IppService
from spooler.ipp.auth import (
    REALM, BadCredentials, PasswordCheck, TooManyFailures, WrongPassword, parse_basic,
)
from spooler.ipp.replies import AuthenticationRequired, IppError

log = Logger()

__all__ = ["IppProtocol", "IppFactory"]

EARLY_ANSWER_BYTES = 256 * 1024
#: Threads decompressing documents and request bodies, for all connections.
INFLATE_THREADS = 2
IPP_PATHS = ("/", "/ipp/print", "/printers/", "/jobs/", "/ipp/print/")


class IppProtocol(Protocol):
    def __init__(self, factory: "IppFactory"):
        self.factory = factory
        self.admitted = False
        self.phase = "idle"
        self.timer = None
        self.received = 0  # bytes from the client, for the body rate
        self.request_start = 0  # ``received`` when the current request began
        self.window_mark = 0
        self.reading_paused = False
        self.paused_in_window = False
        self.parser = RequestParser()
        self.events: deque = deque()
        self.busy = False  # a complete request is being answered
        self.head: RequestHead | None = None
        self.accumulator: MessageAccumulator | None = None
        self.content_decoder: Decompressor | None = None
        self.document: DocumentBody | None = None
        self.request_message: Message | None = None
        self.body_ended = False
        self.pending_response: tuple | None = None
        self.closing = False
        self.secure = False
        self.verified: dict[str, str] = {}  # Authorization header -> user, this connection
        self.rejected: set[str] = set()  # Authorization headers refused on this connection

    # -- connection ----------------------------------------------------------------------
    def connectionMade(self):
        peer = self.transport.getPeer()
        self.peer_host = getattr(peer, "host", "unknown")
        self.secure = self.factory.secure or ISSLTransport.providedBy(self.transport)
        refusal = self.factory.admit(self)
        if refusal is not None:
            log.info("IPP connection from {host} refused: {reason}", host=self.peer_host,
                     reason=refusal)
            self.closing = True
            text = f"{refusal}; try again later\n".encode()
            self.transport.write(format_response_head(503, [
                ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(text))),
                ("Retry-After", "5"), ("Connection", "close")]) + text)
            self.transport.loseConnection()
            return
        self.admitted = True
        self._enter("idle")

    def connectionLost(self, reason=ConnectionDone()):
        self._cancel_timer()
        if self.content_decoder is not None:
            self.content_decoder.abandon()
        if self.admitted:
            self.admitted = False
            self.factory.release(self)
        self._abort_document(reason.value if hasattr(reason, "value") else reason)

    # -- time limits -----------------------------------------------------------------------
    def _enter(self, phase: str) -> None:
        """Start ``phase`` with its timer (none while ``busy``)."""
        self.phase = phase
        self._cancel_timer()
        limits = self.factory.connection_limits
        if phase == "idle":
            self._arm(limits.idle_timeout)
        elif phase == "head":
            self._arm(limits.head_timeout)
        elif phase == "body":
            self.window_mark = self.received
            self.paused_in_window = self.reading_paused
            self._arm(limits.body_window)

    def _arm(self, seconds: float) -> None:
        self.timer = self.factory.clock.callLater(seconds, self._timed_out)

    def _cancel_timer(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None

    def _timed_out(self) -> None:
        self.timer = None
        if self.closing or self.transport is None:
            return
        limits = self.factory.connection_limits
        if self.phase == "idle":
            log.info("IPP connection from {host} idle for {seconds} s, closing",
                     host=self.peer_host, seconds=limits.idle_timeout)
            self.closing = True
            self.transport.loseConnection()
            return
        if self.phase == "head":
            self._too_slow(f"request head not complete within {limits.head_timeout:g} s")
            return
        if self.phase == "body":
            got = self.received - self.window_mark
            if self.paused_in_window or got >= limits.min_body_rate * limits.body_window:
                self._enter("body")
                return
            self._too_slow(f"request body too slow: {got} bytes in {limits.body_window:g} s "
                           f"(at least {limits.min_body_rate} bytes/s)")

    def _too_slow(self, reason: str) -> None:
        self._http_error(408, reason)
        # A client that does not read either is cut off for good shortly after.
        self.factory.clock.callLater(5.0, self._abort_if_open)

    def _abort_if_open(self) -> None:
        if self.transport is not None and self.admitted:
            self.transport.abortConnection()

    def _pause_reading(self) -> None:
        self.reading_paused = True
        self.paused_in_window = True
        self.transport.pauseProducing()

    def _resume_reading(self) -> None:
        self.reading_paused = False
        self.transport.resumeProducing()

    def _abort_document(self, reason) -> None:
        if self.document is not None and not self.body_ended:
            self.document.fail(reason if isinstance(reason, BaseException) else ConnectionDone())

    def dataReceived(self, data: bytes):
        if self.closing:
            return
        self.received += len(data)
        widen_reads(self.transport, self.received - self.request_start)
        if self.phase == "idle":
            self._enter("head")
        try:
            self.events.extend(self.parser.feed(data))
        except HttpError as e:
            self._http_error(e.status, e.reason)
            return
        self._drain()

    def _drain(self) -> None:
        while self.events and not self.busy and not self.closing:
            event = self.events.popleft()
            if isinstance(event, RequestHead):
                self._head(event)
            elif isinstance(event, BodyData):
                self._body(event.data)
            elif isinstance(event, EndOfRequest):
                self._end()
        if self.busy and self.events:
            self._pause_reading()

    # -- one request ---------------------------------------------------------------------
    def _head(self, head: RequestHead) -> None:
        self.head = head
        self.request_start = self.received
        if head.chunked or head.content_length:
            self._enter("body")
        self.body_ended = False
        self.request_message = None
        self.document = None
        self.content_decoder = None
        if head.method != "POST":
            self.accumulator = None
            return
        path = head.target.split("?", 1)[0]
        if not (path == "/" or path.startswith(IPP_PATHS)):
            self._http_error(404, "no IPP printer here")
            return
        if (head.header("content-type") or "").split(";")[0].strip().lower() != "application/ipp":
            self._http_error(415, "Content-Type must be application/ipp")
            return
        coding = (head.header("content-encoding") or "identity").lower()
        if coding in ("gzip", "deflate"):
            # Decoded in a thread, never here: a bomb costs a thread until it is refused.
            self.content_decoder = Inflation(
                Decompressor(coding, max_output=self.factory.max_job_size), run=self.factory.run_in_thread,
                deliver=self._decoded, finished=self._end_of_body, failed=self._decoding_failed,
                pause=self._pause_reading, resume=self._resume_reading)
        elif coding != "identity":
            self._http_error(415, f"Content-Encoding {coding} not supported")
            return
        self.accumulator = MessageAccumulator(self.factory.limits)
        if head.expect_continue:
            write_now(self.transport, b"HTTP/1.1 100 Continue\r\n\r\n")

    def _body(self, data: bytes) -> None:
        if self.head is None or self.head.method != "POST":
            return
        if self.content_decoder is not None:
            self.content_decoder.feed(data)  # _decoded gets what it decodes to
            return
        self._decoded(data)

    def _decoding_failed(self, exc: BaseException) -> None:
        if self.closing or self.transport is None:
            return
        if isinstance(exc, (ExpandsTooMuch, JobTooLarge)):
            self._http_error(413, f"Content-Encoding: {exc}")
        else:
            self._http_error(400, f"bad Content-Encoding: {exc}")

    def _decoded(self, data: bytes) -> None:
        """The request's body as sent, or as its Content-Encoding decodes."""
        if self.closing:
            return
        if self.document is not None:
            self.document.feed(data)
            self._maybe_answer_early()
            return
        if self.accumulator is None:
            return
        try:
            done = self.accumulator.feed(data)
        except IppDecodeError as exc:
            self._bad_message(exc)
            return
        if done is not None:
            message, rest = done
            self._start(message)
            if self.document is not None:
                self.document.feed(rest)

    def _end(self) -> None:
        head = self.head
        if head is None:
            return
        self.busy = True
        self._enter("busy")  # our turn: a slow commit is not the client idling
        if head.method != "POST":
            self.body_ended = True
            self._simple_page(head)
            return
        if self.content_decoder is not None:
            self.content_decoder.end()  # _end_of_body once the rest is decoded
            return
        self._end_of_body()

    def _end_of_body(self) -> None:
        if self.closing or self.transport is None:
            return
        self.body_ended = True
        if self.request_message is None and self.accumulator is not None and not self.closing:
            try:
                message, rest = self.accumulator.finish()
            except IppDecodeError as exc:
                self._bad_message(exc)
                return
            self._start(message)
            if self.document is not None:
                self.document.feed(rest)
        if self.document is not None:
            self.document.end()
        if self.pending_response is not None:
            response, self.pending_response = self.pending_response, None
            self._write_response(response)

    def _start(self, message: Message) -> None:
        self.request_message = message
        self.accumulator = None
        self.document = DocumentBody(pause=self._pause_reading, resume=self._resume_reading,
                                     run=self.factory.run_in_thread)
        try:
            credentials = parse_basic(self.head.header("authorization"))
        except BadCredentials as exc:
            self._refuse_credentials(message, exc.reason)
            return
        if credentials is None:
            self._dispatch(message, None)
            return
        if not self.secure:
            log.info("IPP request from {host} sent a password over plain HTTP: refused",
                     host=self.peer_host)
            self._refuse_credentials(message, "a password is only accepted over TLS")
            return
        header = self.head.header("authorization")
        known = self.verified.get(header)
        if known is not None:
            self._dispatch(message, known)
            return
        if header in self.rejected:
            # Clients resend refused credentials unchanged (libcups does several times):
            # one typo is one failure, not a lockout of the user.
            self._challenge("wrong user name or password")
            return
        d = self.factory.password_check.verify(*credentials, self.peer_host)
        d.addCallbacks(self._authenticated, self._not_authenticated,
                       callbackArgs=(message, header), errbackArgs=(message, header))
        d.addErrback(lambda f: log.failure("IPP authentication of {host} failed", f,
                                           host=self.peer_host))

    def _authenticated(self, user: str, message: Message, header: str) -> None:
        if self.closing or self.transport is None or self.request_message is not message:
            return
        # The same header on the same TLS connection is not hashed again (CUPS polls
        # job state with it every few seconds); nothing outlives the connection.
        if len(self.verified) < 4:
            self.verified[header] = user
        self._dispatch(message, user)

    def _not_authenticated(self, failure, message: Message, header: str) -> None:
        if self.closing or self.transport is None or self.request_message is not message:
            return
        if failure.check(WrongPassword):
            if len(self.rejected) < 4:
                self.rejected.add(header)
            self._challenge("wrong user name or password")
        elif failure.check(TooManyFailures):
            self._refuse(message, IppError(Status.CLIENT_ERROR_NOT_AUTHORIZED, str(failure.value)))
        else:
            log.failure("IPP password check for {host} failed", failure, host=self.peer_host)
            self._refuse(message, IppError(Status.SERVER_ERROR_INTERNAL_ERROR, "internal error"))

    def _refuse_credentials(self, message: Message, reason: str) -> None:
        if self.secure:
            self._challenge(reason)
            return
        service = self.factory.service
        host = (self.head.header("host") or self._local_host()).rsplit(":", 1)[0]
        where = (f"print to ipps://{host}:{service.ipps_port}/printers/..."
                 if service.ipps_port else "this gateway has no ipps:// listener")
        self._refuse(message, IppError(Status.CLIENT_ERROR_NOT_AUTHORIZED, f"{reason}: {where}"))

    def _refuse(self, message: Message, error: IppError) -> None:
        self.document.discard()
        self._respond(self.factory.service.error_response(message, error))

    def _dispatch(self, message: Message, user: str | None) -> None:
        host_header = self._host_with_port()
        try:
            request = self.factory.service.prepare(
                message, host_header=host_header, peer=self.peer_host, document=self.document,
                secure=self.secure, authenticated_user=user)
        except AuthenticationRequired as error:
            if error.secure:
                self.document.discard()
                self._challenge(error.message)
            else:
                self._refuse(message, error)
            return
        except IppError as error:
            self._refuse(message, error)
            return
        d = self.factory.service.handle(request)
        d.addCallback(self._respond)
        d.addErrback(lambda f: log.failure("IPP response failed", f))

    def _respond(self, response: Message) -> None:
        if self.closing or self.transport is None:
            return
        try:
            body = encode_message(response)
        except Exception:  # noqa: BLE001 - a bug of ours: the client still gets an answer
            log.failure("IPP response to {host} could not be encoded", host=self.peer_host)
            request = self.request_message or Message((1, 1), 0, 1)
            response = self.factory.service.error_response(
                request, IppError(Status.SERVER_ERROR_INTERNAL_ERROR, "internal error"))
            body = encode_message(response)
        self._reply(200, [("Content-Type", "application/ipp")], body, refused=response.code >= 0x0400)

    def _challenge(self, reason: str) -> None:
        """HTTP 401 with a Basic challenge, so that CUPS and other clients ask for (or send
        again) a user name and password. Only ever sent over TLS."""
        if self.closing or self.transport is None:
            return
        log.info("IPP request from {host} challenged: {reason}", host=self.peer_host, reason=reason)
        text = reason.encode("utf-8", "replace") + b"\n"
        self._reply(401, [("Content-Type", "text/plain; charset=utf-8"),
                          ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')],
                    text, refused=True)

    def _reply(self, status: int, headers: list, body: bytes, *, refused: bool) -> None:
        reply = (status, headers, body)
        if self.body_ended:
            self._write_response(reply)
        else:
            if refused:
                self.document.discard()
            self.pending_response = reply
            self._maybe_answer_early()

    def _maybe_answer_early(self) -> None:
        """A refusal while a large document is still arriving is answered at once and the
        connection closed, rather than reading the rest of it for nothing."""
        if (self.pending_response is not None and self.document is not None
                and self.document.raw_size > EARLY_ANSWER_BYTES):
            response, self.pending_response = self.pending_response, None
            self._write_response(response, close=True)

    def _write_response(self, reply: tuple, *, close: bool = False) -> None:
        status, headers, body = reply
        keep_alive = self.head.keep_alive and not close
        headers = headers + [("Content-Length", str(len(body))), ("Server", "Printgate IPP/2.0"),
                             ("Connection", "keep-alive" if keep_alive else "close")]
        write_now(self.transport, format_response_head(status, headers) + body)
        self._finish_request(keep_alive)

    def _finish_request(self, keep_alive: bool) -> None:
        if not keep_alive:
            self.closing = True
            self.transport.loseConnection()
            return
        self.head = None
        self.document = None
        self.pending_response = None
        self.busy = False
        self._enter("idle" if self.parser.idle else "head")
        self._resume_reading()
        self._drain()

    def _bad_message(self, exc: IppDecodeError) -> None:
        log.info("IPP request from {host} malformed: {reason}", host=self.peer_host, reason=exc)
        raw = Message((1, 1), 0, 0)
        error = IppError(Status.CLIENT_ERROR_BAD_REQUEST, exc.reason)
        self.accumulator = None
        body = encode_message(self.factory.service.error_response(raw, error))
        self._write_response((200, [("Content-Type", "application/ipp")], body),
                             close=not self.body_ended)

    def _simple_page(self, head: RequestHead) -> None:
        text = b"Printgate IPP gateway: print to ipp://<host>/printers/<queue>\n"
        code = 200 if head.target.split("?", 1)[0] in ("/", "/printers/") or \
            head.target.startswith("/printers/") else 404
        response = format_response_head(code, [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(0 if head.method == "HEAD" else len(text))),
            ("Connection", "keep-alive" if head.keep_alive else "close")])
        self.transport.write(response + (b"" if head.method == "HEAD" else text))
        self._finish_request(head.keep_alive)

    def _http_error(self, status: int, reason: str) -> None:
        if self.closing:
            return
        log.info("HTTP {status} to {host}: {reason}", status=status, host=self.peer_host,
                 reason=reason)
        self.closing = True  # first: the operation the document fails below answers nothing
        self._abort_document(ConnectionDone(reason))
        text = reason.encode("utf-8", "replace") + b"\n"
        self.transport.write(format_response_head(status, [
            ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(text))),
            ("Connection", "close")]) + text)
        self.transport.loseConnection()

    def _host_with_port(self) -> str:
        """The Host the client used, with the port it connected to when it named none:
        ipp:// and ipps:// both default to 631, which our HTTPS port is not."""
        host = self.head.header("host") or ""
        if not host:
            return self._local_host()
        bare = host.rsplit("]", 1)[-1] if host.startswith("[") else host
        if ":" in bare:
            return host
        return f"{host}:{getattr(self.transport.getHost(), 'port', 631)}"

    def _local_host(self) -> str:
        host = self.transport.getHost()
        return f"{getattr(host, 'host', 'localhost')}:{getattr(host, 'port', 631)}"


class IppFactory(Factory):
    """Builds IPP connections; ``service`` holds what they share (jobs, pending creates).

    ``password_check.verify(user, password, peer) -> Deferred[str]`` checks HTTP Basic
    credentials (sent over TLS only) against local users: the name it returns wins over
    requesting-user-name. By default it is ``PasswordCheck(jobs)``. ``secure``
    marks a factory whose connections all arrive over TLS (the shared HTTPS port).
    """

    protocol = IppProtocol

    def __init__(self, *, intake, jobs, config, clock, password_check=None,
                 limits: Limits | None = None, service: IppService | None = None,
                 secure: bool = False, connection_limits: ConnectionLimits | None = None):
        self.config = config
        self.clock = clock
        self.service = service or IppService(intake=intake, jobs=jobs, config=config, clock=clock)
        self.password_check = password_check or PasswordCheck(jobs)
        self.limits = limits or Limits()
        self.secure = secure
        self.connection_limits = connection_limits or limits_from_config(config)
        self.max_job_size = int(config.max_job_size)
        self.connections: set[IppProtocol] = set()  # the gateway aborts these at shutdown
        self._inflate_pool: ThreadPool | None = None
        self.caps = ConnectionCaps(self.connection_limits.max_connections, self.connection_limits.max_per_address,
                                   what="IPP connections")

    def run_in_thread(self, function, *args):
        """Run ``function(*args)`` in the factory's decompression threads (Deferred); at
        once under a test clock, which has no threads."""
        if not hasattr(self.clock, "getThreadPool"):
            return function(*args)
        if self._inflate_pool is None:
            self._inflate_pool = ThreadPool(minthreads=0, maxthreads=INFLATE_THREADS, name="printgate-inflate")
            self._inflate_pool.start()
            self.clock.addSystemEventTrigger("during", "shutdown", self._inflate_pool.stop)
        return deferToThreadPool(self.clock, self._inflate_pool, function, *args)

    def admit(self, protocol: IppProtocol) -> str | None:
        """Count ``protocol`` in, or say why it is refused (``release`` undoes ``admit``)."""
        limits = self.connection_limits  # may be replaced while running (tests, reloads)
        self.caps.max_total, self.caps.max_per_address = limits.max_connections, limits.max_per_address
        refusal = self.caps.admit(protocol.peer_host)
        if refusal is None:
            self.connections.add(protocol)
        return refusal

    def release(self, protocol: IppProtocol) -> None:
        if protocol in self.connections:
            self.connections.discard(protocol)
            self.caps.release(protocol.peer_host)

    def buildProtocol(self, addr):
        protocol = self.protocol(self)
        return protocol

    def startFactory(self):
        self.service.recover()

    def tls_sibling(self) -> "IppFactory":
        """A factory for IPP over TLS (``ipps://`` on the shared HTTPS port) with the same
        jobs, password check and connection set (closed at shutdown) as this one."""
        sibling = IppFactory(intake=None, jobs=None, config=self.config, clock=self.clock,
                             password_check=self.password_check, limits=self.limits,
                             service=self.service, secure=True,
                             connection_limits=self.connection_limits)
        sibling.connections = self.connections
        sibling.caps = self.caps
        sibling.run_in_thread = self.run_in_thread
        return sibling
