"""HTTP Basic for IPP over StringTransport: TLS only, the authenticated name wins, a
queue that requires it challenges with 401, wrong passwords are braked per address."""
import base64

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from zope.interface import directlyProvides

from accounting.errors import LoginFailed, LoginLocked
from accounting.time import utcnow
from spooler.config import QueueConfig
from spooler.ipp.auth import BadCredentials, PasswordCheck, PeerBrake, TooManyFailures, parse_basic
from spooler.ipp.codec import Tag, encode_message
from spooler.ipp.constants import Operation, Status
from tests.spooler.ipp.test_protocol import (
    HOST, A, Gateway, _Addr, attr, create_job, print_job, request, responses,
)


class FakeUser:
    def __init__(self, username):
        self.username = username


class FakePasswords:
    """accounting.verify_password with one user, counting calls."""

    def __init__(self, users=None):
        self.users = users or {"alice": "correct horse"}
        self.calls = []
        self.locked = False
        self.held: Deferred | None = None

    def verify_password(self, username, password, *, device=None):
        self.calls.append((username, device))
        if self.locked:
            from datetime import timedelta
            return fail(LoginLocked("user", username, utcnow() + timedelta(seconds=60)))
        if self.users.get(username) == password and password:
            result = succeed(FakeUser(username))
        else:
            result = fail(LoginFailed(username, device))
        if self.held is not None:
            held, self.held = self.held, None
            return held.addCallback(lambda _: result)
        return result


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def wire(message, document=b"", *, authorization=None, path="/printers/secure"):
    body = encode_message(message) + document
    head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/ipp\r\n"
            f"Content-Length: {len(body)}\r\n")
    if authorization:
        head += f"Authorization: {authorization}\r\n"
    return head.encode() + b"\r\n" + body


class AuthGateway(Gateway):
    def __init__(self, *, require=False, trust=True, ipps_port=None, ipp_port=None):
        super().__init__()
        self.passwords = FakePasswords()
        self.clock_brake = Clock()
        self.factory.password_check = PasswordCheck(
            self.passwords, brake=PeerBrake(max_failures=3, clock=self.clock_brake.seconds))
        self.factory.config.queues = {"secure": QueueConfig(
            "secure", require_authentication=require, trust_client_user=trust)}
        self.factory.service.ipps_port = ipps_port
        self.factory.service.ipp_port = ipp_port

    def connect(self, *, tls=True):
        protocol = self.factory.buildProtocol(None)
        transport = StringTransport(peerAddress=_Addr("192.0.2.7", 40000),
                                    hostAddress=_Addr("127.0.0.1", 631))
        if tls:
            directlyProvides(transport, ISSLTransport)
        protocol.makeConnection(transport)
        return protocol, transport

    def send(self, message, document=b"", *, tls=True, authorization=None):
        protocol, transport = self.connect(tls=tls)
        protocol.dataReceived(wire(message, document, authorization=authorization))
        return transport


def last(transport):
    return responses(transport.value())[-1]


def test_parse_basic_reads_user_and_password_with_colons_in_the_password():
    assert parse_basic(basic("alice", "a:b c")) == ("alice", "a:b c")
    assert parse_basic(None) is None
    assert parse_basic("Bearer abc") is None
    with pytest.raises(BadCredentials):
        parse_basic("Basic !!!notbase64")
    with pytest.raises(BadCredentials):
        parse_basic("Basic " + base64.b64encode(b"no-colon").decode())


def test_over_tls_the_authenticated_name_wins_over_requesting_user_name():
    gw = AuthGateway()
    transport = gw.send(print_job(user="mallory"), b"%PDF", authorization=basic("alice", "correct horse"))
    assert last(transport).code == Status.SUCCESSFUL_OK
    assert gw.intake.receivers[0].metadata.user == "alice"
    assert gw.passwords.calls == [("alice", "ipp:192.0.2.7")]


def test_a_wrong_password_is_answered_401_with_a_basic_challenge_and_nothing_is_held():
    gw = AuthGateway()
    transport = gw.send(print_job(), b"%PDF", authorization=basic("alice", "guess"))
    raw = transport.value()
    assert raw.startswith(b"HTTP/1.1 401 ")
    assert b'WWW-Authenticate: Basic realm="Printgate"' in raw
    assert gw.intake.receivers == []


def test_a_password_over_plain_http_is_refused_without_being_checked():
    gw = AuthGateway(ipps_port=10443)
    transport = gw.send(print_job(), b"%PDF", tls=False, authorization=basic("alice", "correct horse"))
    reply = last(transport)
    assert reply.code == Status.CLIENT_ERROR_NOT_AUTHORIZED
    assert b"WWW-Authenticate" not in transport.value()
    assert "only accepted over TLS" in attr(reply, "status-message", Tag.OPERATION)[0]
    assert gw.passwords.calls == []
    assert gw.intake.receivers == []


def test_a_queue_requiring_authentication_challenges_a_job_over_tls():
    gw = AuthGateway(require=True)
    transport = gw.send(print_job(), b"%PDF")
    assert transport.value().startswith(b"HTTP/1.1 401 ")
    assert b"WWW-Authenticate: Basic" in transport.value()
    assert gw.intake.receivers == []


def test_a_queue_requiring_authentication_answers_plain_http_with_not_authorized_and_the_ipps_uri():
    gw = AuthGateway(require=True, ipps_port=10443)
    transport = gw.send(print_job(), b"%PDF", tls=False)
    reply = last(transport)
    assert reply.code == Status.CLIENT_ERROR_NOT_AUTHORIZED
    message = attr(reply, "status-message", Tag.OPERATION)[0]
    assert "ipps://gateway.example:10443/printers/secure" in message
    assert b"WWW-Authenticate" not in transport.value()


def test_a_queue_requiring_authentication_still_describes_itself_without_credentials():
    gw = AuthGateway(require=True, ipps_port=10443)
    transport = gw.send(request(Operation.GET_PRINTER_ATTRIBUTES), tls=False)
    reply = last(transport)
    assert reply.code == Status.SUCCESSFUL_OK
    assert attr(reply, "printer-uri-supported", Tag.PRINTER) == [
        "ipps://gateway.example:10443/printers/secure"]
    assert attr(reply, "uri-security-supported", Tag.PRINTER) == ["tls"]
    assert attr(reply, "uri-authentication-supported", Tag.PRINTER) == ["basic"]


def test_each_uri_of_a_trusting_queue_says_its_own_security_and_authentication():
    gw = AuthGateway(ipps_port=10443, ipp_port=631)
    transport = gw.send(request(Operation.GET_PRINTER_ATTRIBUTES), tls=False)
    reply = last(transport)
    assert attr(reply, "printer-uri-supported", Tag.PRINTER) == [
        f"ipp://{HOST}/printers/secure", "ipps://gateway.example:10443/printers/secure"]
    assert attr(reply, "uri-security-supported", Tag.PRINTER) == ["none", "tls"]
    assert attr(reply, "uri-authentication-supported", Tag.PRINTER) == [
        "requesting-user-name", "requesting-user-name"]


def test_an_untrusting_queue_says_none_for_authentication():
    gw = AuthGateway(trust=False)
    reply = last(gw.send(request(Operation.GET_PRINTER_ATTRIBUTES), tls=False))
    assert attr(reply, "uri-authentication-supported", Tag.PRINTER) == ["none"]


def test_the_same_credentials_on_one_connection_are_checked_once():
    gw = AuthGateway(require=True)
    protocol, transport = gw.connect()
    for _ in range(3):
        protocol.dataReceived(wire(request(Operation.GET_JOBS), authorization=basic("alice", "correct horse")))
    assert [r.code for r in responses(transport.value())] == [Status.SUCCESSFUL_OK] * 3
    assert len(gw.passwords.calls) == 1


def test_after_three_wrong_passwords_the_address_is_refused_without_hashing():
    gw = AuthGateway()
    for guess in ("guess1", "guess2", "guess3"):
        gw.send(print_job(), b"%PDF", authorization=basic("alice", guess))
    assert len(gw.passwords.calls) == 3
    transport = gw.send(print_job(), b"%PDF", authorization=basic("alice", "correct horse"))
    reply = last(transport)
    assert reply.code == Status.CLIENT_ERROR_NOT_AUTHORIZED
    assert "too many failed logins" in attr(reply, "status-message", Tag.OPERATION)[0]
    assert len(gw.passwords.calls) == 3
    gw.clock_brake.advance(301)
    assert last(gw.send(print_job(), b"%PDF", authorization=basic("alice", "correct horse"))).code \
        == Status.SUCCESSFUL_OK


def test_a_user_locked_by_accounting_is_told_so_and_not_challenged():
    gw = AuthGateway()
    gw.passwords.locked = True
    transport = gw.send(print_job(), b"%PDF", authorization=basic("alice", "correct horse"))
    assert transport.value().startswith(b"HTTP/1.1 200 ")
    assert last(transport).code == Status.CLIENT_ERROR_NOT_AUTHORIZED


def test_the_document_waits_for_a_slow_password_check_and_is_held_whole():
    gw = AuthGateway()
    gw.passwords.held = held = Deferred()
    transport = gw.send(print_job(), b"%PDF slow check", authorization=basic("alice", "correct horse"))
    assert transport.value() == b""
    held.callback(None)
    assert last(transport).code == Status.SUCCESSFUL_OK
    assert gw.intake.receivers[0].data == b"%PDF slow check"


def test_a_create_job_by_an_authenticated_user_is_owned_by_that_user():
    gw = AuthGateway(require=True)
    transport = gw.send(create_job(user="mallory"), authorization=basic("alice", "correct horse"))
    reply = last(transport)
    assert reply.code == Status.SUCCESSFUL_OK
    job_id = attr(reply, "job-id")[0]
    assert gw.factory.service.pending[job_id].owner == "alice"


def test_the_same_wrong_password_sent_again_on_new_connections_counts_once():
    gw = AuthGateway()
    for _ in range(6):
        transport = gw.send(print_job(), b"%PDF", authorization=basic("alice", "typo"))
        assert transport.value().startswith(b"HTTP/1.1 401 ")
    assert len(gw.passwords.calls) == 1
    assert last(gw.send(print_job(), b"%PDF", authorization=basic("alice", "correct horse"))).code \
        == Status.SUCCESSFUL_OK
