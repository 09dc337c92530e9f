"""A malformed HTTP request on the HTTPS port gets its 400 and nothing more: no traceback
from the lines that follow it in the same read."""
import pytest
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource
from twisted.web.server import Site

from release_api.http_channel import guarded_channel


class ClosingLater(StringTransport):
    """A transport that closes once what it holds is written (TLS, a pipelined response)."""

    def loseConnection(self):
        pass


def test_the_lines_after_a_malformed_request_line_are_ignored_once_it_is_answered():
    site = Site(Resource())
    site.protocol = guarded_channel
    channel = site.buildProtocol(None)
    transport = ClosingLater()
    channel.makeConnection(transport)
    channel.dataReceived(b"BAD\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n")
    assert transport.value() == b"HTTP/1.1 400 Bad Request\r\n\r\n"


@pytest.mark.parametrize("breaking", [b"\r", b"\x0c", b"\x1c", b"\x85"])
def test_a_header_holding_a_line_break_is_answered_400(breaking):
    site = Site(Resource())
    site.protocol = guarded_channel
    channel = site.buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(b"POST /panel/login HTTP/1.1\r\nContent-Type: text/plain" + breaking
                         + b"X: y\r\nContent-Length: 2\r\n\r\nab")
    assert transport.value().startswith(b"HTTP/1.1 400 Bad Request")
