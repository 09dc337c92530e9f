"""The LPD client conversation over an in-memory transport and a fake clock."""
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from spooler.forward.errors import ConnectionLostMidway, ForwardTimeout, PrinterRefusedJob, SourceChanged
from spooler.forward.job import AttemptResult
from spooler.forward.lpd_client import LpdJobNames, LpdSendProtocol, LpdTimeouts, build_control_file

NAMES = LpdJobNames(number=7, host="gw1")


def connect(data=b"0123456789", length=None, chunks=None, **kw):
    results = []
    clock = Clock()
    protocol = LpdSendProtocol(queue="secure", names=NAMES, control_file=b"Hgw1\n", data_length=len(data) if length is None else length,
                               chunks=iter(chunks if chunks is not None else [data[:4], data[4:]]), clock=clock,
                               timeouts=LpdTimeouts(ack=5, stall=9), on_result=results.append, target="lpd://p/secure", **kw)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock, results


def drain(transport):
    while transport.producer is not None:
        transport.producer.resumeProducing()


def test_the_control_file_has_host_user_names_and_one_l_line_per_copy():
    text = build_control_file(NAMES, user="al\nice", title="Q3 report\r\nPevil", copies_lines=2).decode()
    assert text.splitlines() == ["Hgw1", "Pal_ice", "JQ3 report__Pevil", "NQ3 report__Pevil",
                                 "ldfA007gw1", "ldfA007gw1", "UdfA007gw1"]


def test_a_whole_conversation_ends_accepted_on_the_last_ack():
    protocol, transport, clock, results = connect()
    assert transport.value() == b"\x02secure\n"
    transport.clear()
    protocol.dataReceived(b"\x00")
    assert transport.value() == b"\x025 cfA007gw1\n"
    transport.clear()
    protocol.dataReceived(b"\x00")
    assert transport.value() == b"Hgw1\n\x00"
    transport.clear()
    protocol.dataReceived(b"\x00")
    assert transport.value() == b"\x0310 dfA007gw1\n"
    transport.clear()
    protocol.dataReceived(b"\x00")
    drain(transport)
    assert transport.value() == b"0123456789\x00"
    assert results == []
    protocol.dataReceived(b"\x00")
    [result] = results
    assert isinstance(result, AttemptResult) and result.bytes_sent == 10 and result.confirmed_by == "lpd-ack"
    assert transport.disconnecting


def test_data_first_order_sends_the_data_file_before_the_control_file():
    protocol, transport, clock, results = connect(data_first=True)
    protocol.dataReceived(b"\x00")
    assert transport.value().endswith(b"\x0310 dfA007gw1\n")


def test_a_negative_ack_on_the_queue_is_a_retryable_refusal():
    protocol, transport, clock, results = connect()
    protocol.dataReceived(b"\x01")
    [error] = results
    assert isinstance(error, PrinterRefusedJob) and error.stage == "queue" and error.retryable


def test_a_negative_ack_after_the_data_is_a_final_refusal():
    protocol, transport, clock, results = connect()
    protocol.dataReceived(b"\x00\x00\x00\x00")
    drain(transport)
    protocol.dataReceived(b"\x02")
    [error] = results
    assert isinstance(error, PrinterRefusedJob) and error.stage == "data-file" and not error.retryable
    assert error.bytes_sent == 10


def test_a_silent_printer_times_out_on_the_ack_clock():
    protocol, transport, clock, results = connect()
    clock.advance(4.9)
    assert results == []
    clock.advance(0.2)
    [error] = results
    assert isinstance(error, ForwardTimeout) and error.stage == "queue" and error.retryable


def test_losing_the_connection_midway_reports_the_bytes_sent():
    protocol, transport, clock, results = connect()
    protocol.dataReceived(b"\x00\x00\x00\x00")
    transport.producer.resumeProducing()
    protocol.connectionLost(Failure(ConnectionLost()))
    [error] = results
    assert isinstance(error, ConnectionLostMidway) and error.bytes_sent == 4 and not error.retryable
    assert clock.getDelayedCalls() == []


def test_a_source_that_produces_a_different_length_never_sends_the_closing_zero():
    protocol, transport, clock, results = connect(length=11)
    protocol.dataReceived(b"\x00\x00\x00\x00")
    drain(transport)
    [error] = results
    assert isinstance(error, SourceChanged) and (error.expected, error.produced) == (11, 10)
    assert not transport.value().endswith(b"0123456789\x00")
