"""Panel request bodies are judged on the request head, before a byte of the body is
read, and must arrive promptly (issue 20.8). Over an in-memory transport with a clock."""
import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport

from release_api.device_auth import DeviceRequestSigner, DeviceRequestVerifier
from release_api.panel import DeviceCookies
from release_api.server import build_site
from release_api.sessions import PanelSessions
from tests.release_api.panel_test_double import InMemoryPanelServicesTestDouble

NOW = 1_800_000_000.0


@pytest.fixture
def site():
    reactor = MemoryReactorClock()
    reactor.advance(NOW)
    services = InMemoryPanelServicesTestDouble()
    site, _ = build_site(services, reactor=reactor, body_seconds=10,
                         sessions=PanelSessions(clock=reactor.seconds),
                         verifier=DeviceRequestVerifier(services.device_secret, clock=reactor.seconds),
                         device_cookies=DeviceCookies(b"k" * 32, clock=reactor.seconds))
    signer = DeviceRequestSigner("mfp-regular", services.devices["mfp-regular"][0], clock=reactor.seconds)
    return reactor, site, signer


def connect(site):
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
    protocol.makeConnection(transport)
    return protocol, transport


def head(path, length, *, authorization=None, extra=()):
    lines = [f"POST {path} HTTP/1.1", "Host: gateway.test", "Content-Type: application/x-www-form-urlencoded"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if authorization:
        lines.append(f"Authorization: {authorization}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(transport) -> int:
    return int(transport.value().split(b" ", 2)[1])


def test_a_huge_content_length_is_refused_before_any_body_byte(site):
    _, site, signer = site
    protocol, transport = connect(site)
    protocol.dataReceived(head("/panel/card", 300_000_000, authorization=signer.authorization("POST", "/panel/card")))
    assert status_of(transport) == 413 and transport.disconnecting
    protocol.dataReceived(b"x" * 1_000_000)  # what the client sends anyway is dropped, not stored
    request = protocol._channel.requests[-1]
    assert request.content is None or request.content.tell() == 0


def test_a_body_without_a_length_is_refused(site):
    _, site, signer = site
    protocol, transport = connect(site)
    protocol.dataReceived(head("/panel/card", None, authorization=signer.authorization("POST", "/panel/card"),
                               extra=["Transfer-Encoding: chunked"]))
    assert status_of(transport) == 411 and transport.disconnecting


def test_a_body_from_a_client_with_neither_signature_nor_device_cookie_is_not_read(site):
    _, site, _ = site
    protocol, transport = connect(site)
    protocol.dataReceived(head("/panel/card", 100))
    assert status_of(transport) == 303 and b"Location: /panel/launch" in transport.value()
    assert transport.disconnecting


def test_a_stale_signature_header_is_refused_before_the_body(site):
    reactor, site, signer = site
    stale = DeviceRequestSigner(signer.device_id, signer.secret, clock=lambda: NOW - 3600)
    protocol, transport = connect(site)
    protocol.dataReceived(head("/panel/card", 100, authorization=stale.authorization("POST", "/panel/card")))
    assert status_of(transport) == 401 and transport.disconnecting


CARD_FORM = b"csrf=x&card_number=04A1B2C3"


def card_post_head(site, signer):
    """A connection that sent the signed head of a card login, and not its body yet."""
    protocol, transport = connect(site)
    protocol.dataReceived(head("/panel/card", len(CARD_FORM),
                               authorization=signer.authorization("POST", "/panel/card", CARD_FORM)))
    return protocol, transport


def test_a_body_trickled_slowly_is_cut_off(site):
    reactor, site, signer = site
    body = CARD_FORM
    protocol, transport = card_post_head(site, signer)
    assert transport.value() == b""
    for byte in body[:5]:
        protocol.dataReceived(bytes([byte]))
        reactor.advance(2.5)
    assert status_of(transport) == 408 and transport.disconnecting


def test_a_prompt_body_is_answered_normally(site):
    reactor, site, signer = site
    protocol, transport = card_post_head(site, signer)
    protocol.dataReceived(CARD_FORM)
    assert status_of(transport) in (200, 303, 403)
    reactor.advance(30)
    assert b"408" not in transport.value().split(b"\r\n", 1)[0]


def test_a_head_trickled_slowly_is_cut_off(site):
    reactor, site, _ = site
    protocol, transport = connect(site)
    protocol.dataReceived(b"POST /panel/card HTTP/1.1\r\n")
    for byte in b"Host: gateway.test\r\n":
        protocol.dataReceived(bytes([byte]))
        reactor.advance(1)
    assert status_of(transport) == 408 and transport.disconnecting
