"""The HTTPS port shared by the panel and ipps://: the first request head decides, the
rest of the connection follows it (StringTransport, fake clock)."""
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from release_api.server import SharedHttpsPortFactory, is_ipp_request


class Recorder(Protocol):
    def __init__(self, name):
        self.name = name
        self.data = b""
        self.lost = False

    def dataReceived(self, data):
        self.data += data

    def connectionLost(self, reason=None):
        self.lost = True


class RecordingFactory(Factory):
    def __init__(self, name):
        self.name = name
        self.built = []

    def buildProtocol(self, addr):
        protocol = Recorder(self.name)
        self.built.append(protocol)
        return protocol


IPP_HEAD = b"POST /printers/secure HTTP/1.1\r\nHost: g\r\nContent-Type: application/ipp\r\nContent-Length: 9\r\n\r\n"


def shared():
    clock = Clock()
    web, ipp = RecordingFactory("web"), RecordingFactory("ipp")
    factory = SharedHttpsPortFactory(web, ipp, clock=clock, head_timeout=20)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return clock, web, ipp, protocol, transport


def test_an_ipp_post_goes_to_ipp_with_every_byte_in_order():
    _, web, ipp, protocol, _ = shared()
    protocol.dataReceived(IPP_HEAD[:20])
    protocol.dataReceived(IPP_HEAD[20:] + b"\x02\x00abc")
    protocol.dataReceived(b"defg")
    assert web.built == []
    assert ipp.built[0].data == IPP_HEAD + b"\x02\x00abcdefg"
    protocol.connectionLost(None)
    assert ipp.built[0].lost


def test_a_page_request_goes_to_the_web_site():
    _, web, ipp, protocol, _ = shared()
    protocol.dataReceived(b"GET /panel/ HTTP/1.1\r\nHost: g\r\n\r\n")
    assert ipp.built == [] and web.built[0].data.startswith(b"GET /panel/")


def test_which_heads_are_ipp():
    assert is_ipp_request(IPP_HEAD[:-4])
    assert is_ipp_request(b"POST / HTTP/1.1\r\ncontent-type: application/ipp; charset=x")
    assert not is_ipp_request(b"POST /panel/login HTTP/1.1\r\nContent-Type: application/ipp")
    assert not is_ipp_request(b"POST /printers/secure HTTP/1.1\r\nContent-Type: text/html")
    assert not is_ipp_request(b"GET /printers/secure HTTP/1.1\r\nContent-Type: application/ipp")


def test_a_connection_that_sends_no_head_is_closed_after_the_timeout():
    clock, web, ipp, protocol, transport = shared()
    protocol.dataReceived(b"POST /printers/")
    clock.advance(21)
    assert transport.disconnecting or transport.disconnected
    assert web.built == [] and ipp.built == []


class _Peer:
    def __init__(self, host):
        self.host, self.port = host, 40000


def _connect(factory, host):
    protocol = factory.buildProtocol(None)
    transport = StringTransport(peerAddress=_Peer(host))
    protocol.makeConnection(transport)
    return protocol, transport


def test_the_port_caps_connections_per_address_and_in_all_then_frees_them():
    web = RecordingFactory("web")
    factory = SharedHttpsPortFactory(web, None, clock=Clock(), max_connections=3, max_per_address=2)
    first, _ = _connect(factory, "192.0.2.1")
    second, _ = _connect(factory, "192.0.2.1")
    _, refused = _connect(factory, "192.0.2.1")
    assert refused.disconnecting or refused.disconnected
    other, other_transport = _connect(factory, "192.0.2.2")
    assert not other_transport.disconnecting
    _, over_total = _connect(factory, "192.0.2.3")
    assert over_total.disconnected or over_total.disconnecting
    first.connectionLost(None)
    again, again_transport = _connect(factory, "192.0.2.1")
    assert not again_transport.disconnecting
    for protocol in (second, other, again):
        protocol.connectionLost(None)
    assert factory.caps.total == 0 and factory.caps.by_address == {}


def test_without_ipp_every_request_goes_to_the_web_site():
    web = RecordingFactory("web")
    factory = SharedHttpsPortFactory(web, None, clock=Clock())
    protocol, _ = _connect(factory, "192.0.2.1")
    protocol.dataReceived(IPP_HEAD)
    assert [p.name for p in web.built] == ["web"] and web.built[0].data == IPP_HEAD
