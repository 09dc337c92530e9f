"""What every sending protocol does at the end of one attempt: report exactly one
outcome, stop its timer and its document producer, and drop the connection on failure."""
from __future__ import annotations

from twisted.internet.protocol import Protocol


class SendAttemptProtocol(Protocol):
    """Base of the LPD and RAW senders. Subclasses set ``on_result``, ``_timer``,
    ``_producer`` and ``_done`` and call ``_report`` / ``_fail``."""

    def _fail(self, error: BaseException) -> None:
        if self._done:
            return
        self._report(error)
        if self._producer is not None and not self._producer.finished:
            self._producer.stopProducing()
        self.transport.abortConnection()

    def _report(self, result) -> None:
        if self._done:
            return
        self._done = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self.on_result(result)
