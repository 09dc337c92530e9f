"""The HTTP/1.1 channel of the HTTPS port, made to stop at a bad request.

Twisted's ``HTTPChannel`` answers a malformed request line with 400 and asks its transport
to close, but when that transport (the TLS layer here) is already closing, the lines left
in the same read are still parsed: the end of the head then reaches code that needs the
request line it never got, and the reactor logs an ``AttributeError`` traceback for a
client's garbage. This channel ignores everything after it has answered 400 (the
connection is closing anyway), and answers 400 to a header line holding a line break of any
kind (which the standard library's header parsing would raise on, deep in Twisted), so a
malformed request gets its answer and one log line.
"""
from __future__ import annotations

from twisted.logger import Logger
from twisted.web import http

log = Logger()


class GuardedHTTPChannel(http.HTTPChannel):
    _refused = False

    def _respondToBadRequestAndDisconnect(self):
        if self._refused:
            return
        self._refused = True
        peer = getattr(self.transport.getPeer(), "host", "?") if self.transport is not None else "?"
        log.info("HTTP 400 to {host}: malformed request", host=peer)
        super()._respondToBadRequestAndDisconnect()

    def headerReceived(self, line):
        # A header line the standard library would split in two (a bare CR or LF, or a
        # form feed, \x1c-\x1e, \x85... inside it: ``str.splitlines``) makes its header
        # parser raise when Twisted reads Content-Type: refuse it here.
        if len(line.decode("charmap").splitlines()) > 1:
            self._respondToBadRequestAndDisconnect()
            return False
        return super().headerReceived(line)

    def lineReceived(self, line):
        if self._refused:
            return None
        return super().lineReceived(line)

    def rawDataReceived(self, data):
        if self._refused:
            return None
        return super().rawDataReceived(data)


def guarded_channel() -> http._GenericHTTPChannelProtocol:
    """A ``Site.protocol``: what Twisted's own builds (HTTP/2 negotiation kept), with the
    guarded HTTP/1.1 channel (``_GenericHTTPChannelProtocol`` is how Twisted itself wraps
    the channel for a ``Site``; pinned by ``setup.py``'s Twisted range)."""
    return http._GenericHTTPChannelProtocol(GuardedHTTPChannel())
