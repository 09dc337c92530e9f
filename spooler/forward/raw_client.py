"""A RAW/JetDirect (port 9100) client: write the document, half-close, and wait for the
printer to close its side.

RAW has no acknowledgements, so the honest signals are the connection's: a printer that
closes its side only after our half-close has read everything (``peer-close``); one that
closes or resets before we finished writing, or resets after, did not. If the printer keeps
the connection open after our half-close (some never close), a short grace ends the wait
and the job counts as accepted (``grace``): every byte was handed over without error.
"""
from __future__ import annotations

from dataclasses import dataclass

from zope.interface import implementer
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol

from spooler.forward.attempt import SendAttemptProtocol
from spooler.forward.errors import ConnectionLostMidway, ForwardTimeout
from spooler.forward.job import AttemptResult
from spooler.forward.payload import DocumentProducer

MAX_STATUS_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawTimeouts:
    stall: float = 60.0        # no progress while writing
    close_grace: float = 5.0   # after our half-close, how long to wait for the printer's


@implementer(IHalfCloseableProtocol)
class RawSendProtocol(SendAttemptProtocol):
    def __init__(self, *, chunks, total_length: int | None, clock, timeouts: RawTimeouts, on_result, target: str):
        self.chunks = chunks
        self.total_length = total_length
        self.clock = clock
        self.timeouts = timeouts
        self.on_result = on_result
        self.target = target
        self.status = bytearray()  # what the printer said back (PJL USTATUS), bounded
        self._producer: DocumentProducer | None = None
        self._timer = None
        self._half_closed = False
        self._done = False

    def connectionMade(self):
        self._producer = DocumentProducer(self.transport, self.chunks, on_done=self._written,
                                          on_error=self._fail, on_progress=lambda: self._arm(self.timeouts.stall))
        self._arm(self.timeouts.stall)
        self._producer.start()

    @property
    def bytes_sent(self) -> int:
        return self._producer.bytes_written if self._producer else 0

    def _written(self) -> None:
        self._half_closed = True
        self.transport.loseWriteConnection()
        self._arm(self.timeouts.close_grace, grace=True)

    def dataReceived(self, data: bytes):
        room = MAX_STATUS_BYTES - len(self.status)
        if room > 0:
            self.status += data[:room]

    def readConnectionLost(self):
        if self._half_closed:
            self._succeed("peer-close")
            self.transport.loseConnection()
        else:
            self._fail(ConnectionLostMidway(
                f"{self.target} closed the connection after {self.bytes_sent} bytes",
                target=self.target, bytes_sent=self.bytes_sent, total_bytes=self.total_length,
                before_document=self.bytes_sent == 0))

    def writeConnectionLost(self):
        pass

    def connectionLost(self, reason=ConnectionDone):
        if self._done:
            return
        if self._half_closed and reason.check(ConnectionDone):
            self._succeed("peer-close")
            return
        after = "after all" if self._half_closed else "after"
        self._report(ConnectionLostMidway(
            f"{self.target} dropped the connection {after} {self.bytes_sent} bytes ({reason.getErrorMessage()})",
            target=self.target, bytes_sent=self.bytes_sent, total_bytes=self.total_length,
            before_document=False))

    def _arm(self, seconds: float, grace: bool = False) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = self.clock.callLater(seconds, self._grace_over if grace else self._stalled, seconds)

    def _grace_over(self, seconds: float) -> None:
        self._timer = None
        self._succeed("grace")
        self.transport.loseConnection()

    def _stalled(self, seconds: float) -> None:
        self._timer = None
        self._fail(ForwardTimeout(f"{self.target} took no data for {seconds:g} s after {self.bytes_sent} bytes",
                                  stage="data", seconds=seconds, target=self.target, bytes_sent=self.bytes_sent))

    def _succeed(self, confirmed_by: str) -> None:
        self._report(AttemptResult(bytes_sent=self.bytes_sent, sha256=self._producer.digest.hexdigest(),
                                   confirmed_by=confirmed_by))
