"""Connection and time limits of the IPP server (slowloris), over StringTransport and a
fake clock."""
import pytest
from twisted.internet.testing import StringTransport

from spooler.config import ConfigError
from spooler.ipp.codec import encode_message
from spooler.ipp.constants import Operation, Status
from spooler.ipp.limits import ConnectionLimits, limits_from_config
from tests.spooler.ipp.fakes import make_config
from tests.spooler.ipp.test_protocol import HOST, Gateway, _Addr, http_request, print_job, request, responses

LIMITS = ConnectionLimits(max_connections=4, max_per_address=2, idle_timeout=30.0, head_timeout=10.0,
                          body_window=5.0, min_body_rate=100)


def gateway(**changes):
    gw = Gateway()
    gw.factory.connection_limits = ConnectionLimits(**{**LIMITS.__dict__, **changes})
    return gw


def connect(gw, host="192.0.2.7"):
    protocol = gw.factory.buildProtocol(None)
    transport = StringTransport(peerAddress=_Addr(host, 40000), hostAddress=_Addr("127.0.0.1", 631))
    protocol.makeConnection(transport)
    return protocol, transport


def lose(protocol, transport):
    protocol.connectionLost(None)


def test_connections_past_the_per_address_cap_are_answered_503_and_closed():
    gw = gateway()
    first = [connect(gw) for _ in range(2)]
    protocol, transport = connect(gw)
    assert transport.value().startswith(b"HTTP/1.1 503 ")
    assert transport.disconnecting
    other = connect(gw, host="192.0.2.8")[1]
    assert other.value() == b"" and not other.disconnecting
    lose(*first[0])
    protocol.connectionLost(None)  # a refused connection does not give a place back twice
    again = connect(gw)[1]
    assert again.value() == b"" and not again.disconnecting


def test_connections_past_the_total_cap_are_refused_whatever_their_address():
    gw = gateway()
    for i in range(4):
        assert connect(gw, host=f"192.0.2.{i}")[1].value() == b""
    assert connect(gw, host="192.0.2.99")[1].value().startswith(b"HTTP/1.1 503 ")


def test_a_head_sent_a_byte_at_a_time_is_cut_off_after_the_head_timeout():
    gw = gateway()
    protocol, transport = connect(gw)
    wire = b"POST /printers/secure HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    for i in range(12):
        protocol.dataReceived(wire[i:i + 1])
        gw.clock.advance(1)
    assert transport.value().startswith(b"HTTP/1.1 408 ")
    assert transport.disconnecting


def test_a_keep_alive_connection_idle_between_requests_is_closed():
    gw = gateway()
    protocol, transport = connect(gw)
    protocol.dataReceived(http_request(encode_message(request(Operation.GET_PRINTER_ATTRIBUTES))))
    assert responses(transport.value())[-1].code == Status.SUCCESSFUL_OK
    gw.clock.advance(29)
    assert not transport.disconnecting
    gw.clock.advance(2)
    assert transport.disconnecting


def test_a_connection_that_never_speaks_is_closed_after_the_idle_timeout():
    gw = gateway()
    protocol, transport = connect(gw)
    gw.clock.advance(31)
    assert transport.disconnecting
    assert transport.value() == b""


def test_a_body_below_the_minimum_rate_is_refused_with_408_and_nothing_is_held():
    gw = gateway()
    protocol, transport = connect(gw)
    body = encode_message(print_job()) + b"%PDF" + b"x" * 10_000
    wire = http_request(body)
    head_end = wire.index(b"\r\n\r\n") + 4
    protocol.dataReceived(wire[:head_end + 300])
    for step in range(6):
        protocol.dataReceived(wire[head_end + 300 + step * 10:head_end + 310 + step * 10])
        gw.clock.advance(1)
    assert transport.value().startswith(b"HTTP/1.1 408 ")
    assert gw.intake.receivers[0].aborted is not None


def test_a_body_at_a_steady_rate_over_many_windows_is_held_whole():
    gw = gateway()
    protocol, transport = connect(gw)
    document = b"%PDF" + b"y" * 20_000
    wire = http_request(encode_message(print_job()) + document)
    for offset in range(0, len(wire), 600):
        protocol.dataReceived(wire[offset:offset + 600])
        gw.clock.advance(1)
    assert responses(transport.value())[-1].code == Status.SUCCESSFUL_OK
    assert gw.intake.receivers[0].data == document


def test_time_the_gateway_spends_with_reading_paused_does_not_count_against_the_client():
    gw = gateway()
    gw.intake.hold_commits = True
    protocol, transport = connect(gw)
    protocol.dataReceived(http_request(encode_message(print_job()) + b"%PDF"))
    gw.clock.advance(300)
    assert not transport.disconnecting
    gw.intake.receivers[0].commit_deferred.callback(None)
    assert responses(transport.value())[-1].code == Status.SUCCESSFUL_OK


def test_limits_come_from_the_ipp_section_and_bad_values_are_named():
    config = make_config(ipp={"max_per_address": 8, "head_timeout": 5}, idle_timeout=45.0)
    limits = limits_from_config(config)
    assert (limits.max_per_address, limits.head_timeout, limits.idle_timeout) == (8, 5.0, 45.0)
    with pytest.raises(ConfigError, match="ipp.max_conections"):
        limits_from_config(make_config(ipp={"max_conections": 3}))
    with pytest.raises(ConfigError, match="ipp.min_body_rate"):
        limits_from_config(make_config(ipp={"min_body_rate": -1}))
    with pytest.raises(ConfigError, match="whole number"):
        limits_from_config(make_config(ipp={"max_connections": 2.5}))
