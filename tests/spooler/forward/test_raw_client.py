"""The RAW client over an in-memory transport and a fake clock."""
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from spooler.forward.errors import ConnectionLostMidway, ForwardTimeout
from spooler.forward.job import AttemptResult
from spooler.forward.raw_client import RawSendProtocol, RawTimeouts


class HalfClosingTransport(StringTransport):
    write_closed = False

    def loseWriteConnection(self):
        self.write_closed = True


def connect(chunks=(b"abc", b"def")):
    results = []
    clock = Clock()
    protocol = RawSendProtocol(chunks=iter(chunks), total_length=6, clock=clock,
                               timeouts=RawTimeouts(stall=9, close_grace=2), on_result=results.append, target="socket://p")
    transport = HalfClosingTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock, results


def drain(transport):
    while transport.producer is not None:
        transport.producer.resumeProducing()


def test_all_bytes_then_half_close_then_the_printer_closes_is_accepted():
    protocol, transport, clock, results = connect()
    drain(transport)
    assert transport.value() == b"abcdef" and transport.write_closed and results == []
    protocol.readConnectionLost()
    [result] = results
    assert isinstance(result, AttemptResult) and result.confirmed_by == "peer-close" and result.bytes_sent == 6


def test_a_printer_that_stays_open_is_accepted_when_the_grace_ends():
    protocol, transport, clock, results = connect()
    drain(transport)
    clock.advance(2.1)
    [result] = results
    assert result.confirmed_by == "grace" and transport.disconnecting


def test_the_printer_closing_before_the_end_is_a_failure():
    protocol, transport, clock, results = connect()
    transport.producer.resumeProducing()
    protocol.readConnectionLost()
    [error] = results
    assert isinstance(error, ConnectionLostMidway) and error.bytes_sent == 3 and not error.retryable


def test_a_reset_after_the_half_close_is_a_failure():
    protocol, transport, clock, results = connect()
    drain(transport)
    protocol.connectionLost(Failure(ConnectionLost("reset")))
    [error] = results
    assert isinstance(error, ConnectionLostMidway) and "after all 6 bytes" in str(error)


def test_a_clean_close_after_the_half_close_is_accepted():
    protocol, transport, clock, results = connect()
    drain(transport)
    protocol.connectionLost(Failure(ConnectionDone()))
    assert results[0].confirmed_by == "peer-close"


def test_a_printer_that_takes_nothing_stalls_out():
    protocol, transport, clock, results = connect()
    clock.advance(9.1)
    [error] = results
    assert isinstance(error, ForwardTimeout) and error.stage == "data"


def test_a_spool_error_while_reading_ends_the_attempt_with_that_error():
    def broken():
        yield b"abc"
        raise OSError("disk gone")

    protocol, transport, clock, results = connect(chunks=broken())
    drain(transport)
    [error] = results
    assert isinstance(error, OSError) and transport.disconnecting
