"""A file download sent as it is read, on twisted.web's own request and channel over a
memory transport (no sockets, a clock instead of time): the whole file in order with its
length, nothing while the connection is paused, and the file closed at the end or when
the client goes away."""
import tempfile

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web.server import Site

from release_api.web.downloads import CHUNK, StreamedFile

BODY = bytes(range(256)) * (CHUNK * 3 // 256 + 7)


def served(handle):
    clock = Clock()
    site = Site(StreamedFile(handle, "text/csv; charset=utf-8", "report.csv", reactor=clock), reactor=clock)
    channel = site.buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(b"GET /report.csv HTTP/1.1\r\nHost: example\r\n\r\n")
    return clock, transport, channel


def a_file():
    handle = tempfile.TemporaryFile()
    handle.write(BODY)
    handle.seek(0)
    return handle


def body_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[1]


def test_the_file_is_sent_whole_with_its_length_and_then_closed():
    handle = a_file()
    clock, transport, channel = served(handle)
    assert transport.value() == b""  # nothing before the reactor's turn
    clock.advance(0)
    assert handle.closed
    head = transport.value().split(b"\r\n\r\n", 1)[0]
    assert b"content-length: %d" % len(BODY) in head.lower()
    assert b'attachment; filename="report.csv"' in head
    assert body_of(transport.value()) == BODY


def test_nothing_is_sent_while_the_connection_is_paused():
    handle = a_file()
    clock, transport, channel = served(handle)
    transport.producer.pauseProducing()
    for _ in range(5):
        clock.advance(0)
    assert transport.value() == b"" and not handle.closed
    transport.producer.resumeProducing()
    clock.advance(0)
    assert body_of(transport.value()) == BODY and handle.closed


def test_the_file_is_closed_when_the_client_goes_away():
    handle = a_file()
    clock, transport, channel = served(handle)
    transport.producer.pauseProducing()
    clock.advance(0)
    channel.connectionLost(Failure(ConnectionDone()))
    assert handle.closed
    clock.advance(0)  # nothing left to run
