"""Sans-IO HTTP/1.1 server-side request parser for IPP (RFC 9112 message framing).

``RequestParser.feed(data)`` returns a list of events: ``RequestHead`` once the head of a
request is in, ``BodyData`` for each piece of the body *as it arrives* (Content-Length or
chunked framing removed; nothing is buffered beyond the current chunk-size line), and
``EndOfRequest``. After ``EndOfRequest`` the parser starts on the next request on the same
connection (keep-alive, pipelining). Bad framing raises ``HttpError`` carrying the
status to answer with; after that the connection must be closed.

Only the head and a chunk-size line are ever buffered, both bounded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from spooler.errors import SpoolerError

__all__ = [
    "HttpError",
    "RequestHead",
    "BodyData",
    "EndOfRequest",
    "RequestParser",
    "format_response_head",
]

MAX_HEAD_BYTES = 16 * 1024
MAX_HEADERS = 100
MAX_CHUNK_LINE = 1024
MAX_TRAILER_BYTES = 8 * 1024

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_REQUEST_LINE = re.compile(rb"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP/(\d)\.(\d)$")

REASONS = {
    100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
    411: "Length Required", 413: "Content Too Large", 415: "Unsupported Media Type",
    417: "Expectation Failed", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


class HttpError(SpoolerError):
    """The request cannot be parsed; answer ``status`` and close the connection."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass
class RequestHead:
    method: str
    target: str
    version: tuple[int, int]
    headers: list[tuple[str, str]] = field(default_factory=list)
    keep_alive: bool = True
    expect_continue: bool = False
    chunked: bool = False
    content_length: int | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default


@dataclass
class BodyData:
    data: bytes


@dataclass
class EndOfRequest:
    pass


_HEAD, _BODY_LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER = range(6)


class RequestParser:
    """Incremental request parser; one instance per connection.

    Body bytes are handed on as slices of what was fed (the whole read when it is all
    body), never gathered; only an unfinished head, chunk-size line or trailer is kept
    between calls."""

    def __init__(self, *, max_head_bytes: int = MAX_HEAD_BYTES):
        self.max_head_bytes = max_head_bytes
        self._buffer = b""
        self._state = _HEAD
        self._remaining = 0
        self.head: RequestHead | None = None

    def feed(self, data: bytes) -> list:
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        events: list = []
        pos = 0
        end = len(data)
        while pos < end:
            state = self._state
            if state == _BODY_LENGTH or state == _CHUNK_DATA:
                n = min(self._remaining, end - pos)
                events.append(BodyData(data if (pos == 0 and n == end) else data[pos:pos + n]))
                pos += n
                self._remaining -= n
                if self._remaining == 0:
                    if state == _BODY_LENGTH:
                        self._end(events)
                    else:
                        self._state = _CHUNK_CRLF
            elif state == _HEAD:
                new = self._parse_head(data, pos, events)
                if new is None:
                    break
                pos = new
            elif state == _CHUNK_SIZE:
                new = self._parse_chunk_size(data, pos)
                if new is None:
                    break
                pos = new
            elif state == _CHUNK_CRLF:
                if end - pos < 2:
                    break
                if data[pos:pos + 2] != b"\r\n":
                    raise HttpError(400, "chunk data not followed by CRLF")
                pos += 2
                self._state = _CHUNK_SIZE
            elif state == _TRAILER:
                new = self._parse_trailer(data, pos, events)
                if new is None:
                    break
                pos = new
        if pos < end:
            self._buffer = data[pos:]
        return events

    @property
    def idle(self) -> bool:
        """True between requests with nothing buffered (a close here loses nothing)."""
        return self._state == _HEAD and not self._buffer

    def _end(self, events: list) -> None:
        events.append(EndOfRequest())
        self._state = _HEAD

    def _parse_head(self, data: bytes, pos: int, events: list) -> int | None:
        # Tolerate the stray CRLF some clients send after a body (RFC 9112 section 2.2).
        while data.startswith(b"\r\n", pos):
            pos += 2
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            if len(data) - pos > self.max_head_bytes:
                raise HttpError(431, "request head too large")
            return None
        if end - pos > self.max_head_bytes:
            raise HttpError(431, "request head too large")
        raw = data[pos:end]
        pos = end + 4
        lines = raw.split(b"\r\n")
        match = _REQUEST_LINE.match(lines[0])
        if not match:
            raise HttpError(400, "malformed request line")
        method, target, major, minor = match.groups()
        version = (int(major), int(minor))
        if version[0] != 1:
            raise HttpError(505, "only HTTP/1.x is supported")
        if len(lines) - 1 > MAX_HEADERS:
            raise HttpError(431, "too many header fields")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not _TOKEN.match(name):
                raise HttpError(400, "malformed header field")
            headers.append((name.decode("ascii").lower(), value.strip(b" \t").decode("latin-1")))
        head = RequestHead(method.decode("ascii"), target.decode("latin-1"), version, headers)
        self._frame(head)
        self.head = head
        events.append(head)
        if head.chunked:
            self._state = _CHUNK_SIZE
        elif head.content_length:
            self._state = _BODY_LENGTH
            self._remaining = head.content_length
        else:
            self._end(events)
        return pos

    def _frame(self, head: RequestHead) -> None:
        connection = {t.strip().lower() for v in self._all(head, "connection")
                      for t in v.split(",")}
        if head.version >= (1, 1):
            head.keep_alive = "close" not in connection
        else:
            head.keep_alive = "keep-alive" in connection
        expect = head.header("expect")
        if expect is not None:
            if expect.lower() != "100-continue":
                raise HttpError(417, f"unsupported expectation {expect!r}")
            head.expect_continue = head.version >= (1, 1)
        encodings = [t.strip().lower() for v in self._all(head, "transfer-encoding")
                     for t in v.split(",") if t.strip()]
        lengths = self._all(head, "content-length")
        if encodings:
            if lengths:
                raise HttpError(400, "both Content-Length and Transfer-Encoding")
            if encodings != ["chunked"]:
                raise HttpError(501, "unsupported transfer coding")
            head.chunked = True
            return
        if lengths:
            if len(set(lengths)) != 1 or not lengths[0].isdigit() or len(lengths[0]) > 18:
                raise HttpError(400, "invalid Content-Length")
            head.content_length = int(lengths[0])
        elif head.method == "POST":
            raise HttpError(411, "POST without Content-Length or chunked encoding")

    @staticmethod
    def _all(head: RequestHead, name: str) -> list[str]:
        return [v for k, v in head.headers if k == name]

    def _parse_chunk_size(self, data: bytes, pos: int) -> int | None:
        end = data.find(b"\r\n", pos, pos + MAX_CHUNK_LINE + 2)
        if end < 0:
            if len(data) - pos > MAX_CHUNK_LINE:
                raise HttpError(400, "chunk-size line too long")
            return None
        line = data[pos:end].split(b";", 1)[0].strip()
        if not line or len(line) > 15 or any(c not in b"0123456789abcdefABCDEF" for c in line):
            raise HttpError(400, "malformed chunk size")
        size = int(line, 16)
        if size == 0:
            self._state = _TRAILER
        else:
            self._remaining = size
            self._state = _CHUNK_DATA
        return end + 2

    def _parse_trailer(self, data: bytes, pos: int, events: list) -> int | None:
        if data.startswith(b"\r\n", pos):
            self._end(events)
            return pos + 2
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            if len(data) - pos > MAX_TRAILER_BYTES:
                raise HttpError(431, "trailer section too large")
            return None
        self._end(events)
        return end + 4


def format_response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# ---------------------------------------------------------------- client side

_STATUS_LINE = re.compile(rb"^HTTP/1\.(\d) (\d{3})(?: (.*))?$")


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default


class ResponseParser:
    """Incremental parser of HTTP/1.1 responses to our requests; the body of an IPP
    response is small, so it is collected (bounded by ``max_body``).

    ``feed`` returns a ``Response`` once one is complete (``100 Continue`` is skipped),
    else None. ``connection_closed`` finishes a body delimited by the close."""

    def __init__(self, *, max_body: int = 4 << 20):
        self.max_body = max_body
        self._buffer = bytearray()
        self._head: tuple[int, str, list] | None = None
        self._body = bytearray()
        self._length: int | None = None
        self._chunked = False
        self._chunk_left = 0
        self._state = "head"

    def feed(self, data: bytes) -> Response | None:
        self._buffer += data
        while True:
            if self._state == "head":
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buffer) > MAX_HEAD_BYTES:
                        raise HttpError(502, "response head too large")
                    return None
                lines = bytes(self._buffer[:end]).split(b"\r\n")
                del self._buffer[:end + 4]
                match = _STATUS_LINE.match(lines[0])
                if not match:
                    raise HttpError(502, "malformed status line")
                status = int(match.group(2))
                headers = []
                for line in lines[1:]:
                    name, sep, value = line.partition(b":")
                    if not sep:
                        raise HttpError(502, "malformed response header")
                    headers.append((name.strip().decode("latin-1").lower(),
                                    value.strip().decode("latin-1")))
                if 100 <= status < 200:
                    continue
                self._head = (status, (match.group(3) or b"").decode("latin-1"), headers)
                te = ",".join(v for k, v in headers if k == "transfer-encoding").lower()
                cl = [v for k, v in headers if k == "content-length"]
                if "chunked" in te:
                    self._chunked = True
                    self._state = "chunk-size"
                elif cl:
                    if not cl[0].isdigit():
                        raise HttpError(502, "bad Content-Length in response")
                    self._length = int(cl[0])
                    if self._length > self.max_body:
                        raise HttpError(502, "response body too large")
                    self._state = "body"
                else:
                    self._state = "until-close"
            elif self._state == "body":
                need = self._length - len(self._body)
                self._body += self._buffer[:need]
                del self._buffer[:need]
                if len(self._body) < self._length:
                    return None
                return self._done()
            elif self._state == "chunk-size":
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    if len(self._buffer) > MAX_CHUNK_LINE:
                        raise HttpError(502, "chunk-size line too long")
                    return None
                line = bytes(self._buffer[:end]).split(b";", 1)[0].strip()
                del self._buffer[:end + 2]
                try:
                    size = int(line, 16)
                except ValueError:
                    raise HttpError(502, "malformed chunk size") from None
                if size == 0:
                    self._state = "trailer"
                else:
                    self._chunk_left = size
                    self._state = "chunk"
            elif self._state == "chunk":
                take = self._buffer[:self._chunk_left]
                del self._buffer[:len(take)]
                self._body += take
                self._chunk_left -= len(take)
                if len(self._body) > self.max_body:
                    raise HttpError(502, "response body too large")
                if self._chunk_left:
                    return None
                self._state = "chunk-crlf"
            elif self._state == "chunk-crlf":
                if len(self._buffer) < 2:
                    return None
                del self._buffer[:2]
                self._state = "chunk-size"
            elif self._state == "trailer":
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    return None
                del self._buffer[:end + 2]
                if end == 0:
                    return self._done()
            elif self._state == "until-close":
                self._body += self._buffer
                self._buffer.clear()
                if len(self._body) > self.max_body:
                    raise HttpError(502, "response body too large")
                return None
            else:
                return None

    def connection_closed(self) -> Response | None:
        if self._state == "until-close":
            return self._done()
        return None

    def _done(self) -> Response:
        status, reason, headers = self._head
        response = Response(status, reason, headers, bytes(self._body))
        self._state = "done"
        return response
