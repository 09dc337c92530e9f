"""Request bodies judged before they are read, and cut off when they come too slowly.

twisted.web reads a whole request body (into memory, or a temporary file past 100 KB)
before any resource sees the request, so a limit checked in ``render`` comes too late: a
300 MB POST has cost 300 MB by then. ``GuardedRequest`` asks its site's ``judge`` as soon
as the head is in (``gotLength``: every header parsed, no body byte read yet); a refused
request is answered at once, its body is never stored, and the connection is closed.
An accepted body must arrive within ``body_seconds`` of the head (a panel's form is a few
hundred bytes), and a head within as long of its request line, else the request is
answered 408 and the connection closed: a client trickling one byte every few seconds
cannot hold a connection open.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from twisted.logger import Logger
from twisted.web.server import Request, Site

log = Logger()

#: Seconds from the end of a request's head to the end of its body.
BODY_SECONDS = 10.0
#: A refused client that keeps sending is cut off this long after its answer.
ABORT_AFTER = 5.0
REASONS = {303: b"See Other", 401: b"Unauthorized", 408: b"Request Timeout", 411: b"Length Required",
           413: b"Content Too Large"}


@dataclass(frozen=True)
class HeadRefusal:
    """The answer to a request refused on its head alone."""

    status: int
    text: str
    location: str | None = None


@dataclass(frozen=True)
class RequestHead:
    """What the judge sees: no body byte has been read."""

    method: bytes
    path: bytes
    headers: object  # twisted.web.http_headers.Headers
    cookies: dict
    length: int | None  # None: chunked (no length given)


def body_length_refusal(head: RequestHead, limit: int) -> HeadRefusal | None:
    """The length rule every judge starts with: a body has a Content-Length (no chunked
    body of unknown size), of at most ``limit`` bytes."""
    if head.length is None:
        return HeadRefusal(411, "A request body needs a Content-Length.")
    if head.length > limit:
        return HeadRefusal(413, f"A request body is at most {limit} bytes.")
    return None


class GuardedRequest(Request):
    _refused = False
    _body_timer = None
    _head_timer = None

    def __init__(self, channel, *args, **kwargs):
        super().__init__(channel, *args, **kwargs)
        # The request line is in; its headers must follow promptly too (a client on a
        # kept-alive connection could otherwise trickle a head for hours).
        self._head_timer = channel.callLater(channel.site.body_seconds, self._head_too_slow)

    def _head_too_slow(self) -> None:
        self._head_timer = None
        self._too_slow("head")

    def gotLength(self, length):
        self._cancel_timer("_head_timer")
        channel = self.channel
        site = channel.site
        head = RequestHead(method=channel._command, path=channel._path.split(b"?", 1)[0],
                           headers=self.requestHeaders, cookies=dict(self.received_cookies), length=length)
        refusal = site.judge(head)
        if refusal is not None:
            self._refuse(refusal, head)
            return
        super().gotLength(length)
        if length != 0:
            self._body_timer = channel.callLater(site.body_seconds, self._body_too_slow)

    def _refuse(self, refusal: HeadRefusal, head: RequestHead) -> None:
        self._refused = True
        peer = getattr(self.channel.transport.getPeer(), "host", "?")
        log.info("HTTPS request {method} {path} from {host} refused before its body: {status} {reason}",
                 method=head.method.decode("latin-1"), path=head.path.decode("latin-1")[:100], host=peer,
                 status=refusal.status, reason=refusal.text)
        self._answer_and_close(refusal)

    def _answer_and_close(self, refusal: HeadRefusal) -> None:
        channel = self.channel
        body = refusal.text.encode("utf-8") + b"\n"
        lines = [b"HTTP/1.1 %d %s" % (refusal.status, REASONS.get(refusal.status, b"Refused")),
                 b"Content-Type: text/plain; charset=utf-8", b"Content-Length: %d" % len(body),
                 b"Cache-Control: no-store", b"Connection: close"]
        if refusal.location:
            lines.append(b"Location: " + refusal.location.encode("latin-1"))
        channel.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        channel.loseConnection()
        transport = channel.transport
        channel.callLater(ABORT_AFTER, transport.abortConnection)

    def _body_too_slow(self) -> None:
        self._body_timer = None
        self._too_slow("body")

    def _too_slow(self, part: str) -> None:
        if self._refused:
            return
        self._refused = True
        peer = getattr(self.channel.transport.getPeer(), "host", "?")
        log.info("HTTPS request {part} from {host} not complete within {seconds:g} s: closed", part=part, host=peer,
                 seconds=self.channel.site.body_seconds)
        self._answer_and_close(HeadRefusal(408, f"The request {part} came too slowly."))

    def handleContentChunk(self, data):
        if not self._refused:
            super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        self._cancel_timer("_head_timer")
        self._cancel_timer("_body_timer")
        if self._refused:
            return
        super().requestReceived(command, path, version)

    def connectionLost(self, reason):
        self._cancel_timer("_head_timer")
        self._cancel_timer("_body_timer")
        super().connectionLost(reason)

    def _cancel_timer(self, name: str) -> None:
        timer = getattr(self, name)
        if timer is not None and timer.active():
            timer.cancel()
        setattr(self, name, None)


class GuardedSite(Site):
    """A ``Site`` whose requests are judged on their head (``judge(RequestHead) ->
    HeadRefusal | None``) and whose bodies must arrive within ``body_seconds``."""

    requestFactory = GuardedRequest

    def __init__(self, resource, *, judge: Callable[[RequestHead], HeadRefusal | None],
                 body_seconds: float = BODY_SECONDS, **kwargs):
        super().__init__(resource, **kwargs)
        self.judge = judge
        self.body_seconds = body_seconds
