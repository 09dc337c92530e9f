"""The RAW / JetDirect listener (port 9100): one connection is one job, ended by close.

The protocol has no way to say "refused" but closing the connection early, so that is
what a refusal looks like here (with a log line). Clients half-close when the document is
sent and wait for us to close once the job is stored (the CUPS socket backend does), so
the protocol takes half-closes and closes only after the job is durable.

An orderly close is this protocol's only "stored", so no other way the connection can end
may look like one: each socket is set to linger for zero seconds from the moment it is
accepted, which makes the kernel reset it whenever it is closed — also when the gateway
dies (``kill -9``, a crash) with a job read but not yet recorded, where the kernel would
otherwise send the same FIN a stored job gets. The linger is cleared just before the one
deliberate close, that of a stored job. A stopping gateway (SIGTERM) resets the
connections whose job is not being recorded (``RawFactory.stopFactory``).
"""
from __future__ import annotations

import socket
import struct

from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from zope.interface import implementer

from spooler.connection_caps import CappedFactoryMixin, ConnectionCaps
from spooler.errors import PrintgateError
from spooler.prompt_write import close_now
from spooler.read_size import widen_reads
from spooler.intake import JobMetadata

log = Logger()

_RESET_ON_CLOSE = struct.pack("ii", 1, 0)
_CLOSE_NORMALLY = struct.pack("ii", 0, 0)


def _set_linger(transport, value: bytes) -> None:
    """Best effort: a transport without a socket (a test's) has nothing to set."""
    handle = getattr(transport, "getHandle", None)
    sock = handle() if handle is not None else None
    if isinstance(sock, socket.socket):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, value)
        except OSError:  # already gone: nothing to close normally either
            pass


@implementer(IHalfCloseableProtocol)
class RawProtocol(Protocol, TimeoutMixin):
    def __init__(self, factory: "RawFactory"):
        self.factory = factory
        self.receiver = None
        self._ended = False
        self.stored = False
        self._committing = False

    def connectionMade(self):
        _set_linger(self.transport, _RESET_ON_CLOSE)
        self.factory.connections.add(self)
        self.host = self.transport.getPeer().host
        self.setTimeout(self.factory.config.idle_timeout)
        try:
            self.receiver = self.factory.intake.begin(
                JobMetadata(protocol="raw", host=self.host, queue=self.factory.config.raw_queue)
            )
        except PrintgateError as exc:
            self._refuse(exc)

    def dataReceived(self, data: bytes):
        if self._ended or self.receiver is None:
            return
        self.resetTimeout()
        try:
            self.receiver.write(data)
        except PrintgateError as exc:
            self._refuse(exc)
            return
        widen_reads(self.transport, self.receiver.size)

    def readConnectionLost(self):
        """The client sent everything: store the job, then close our side."""
        if self._ended or self.receiver is None:
            return
        self._ended = True
        self.setTimeout(None)
        receiver, self.receiver = self.receiver, None
        if receiver.size == 0:
            receiver.abort("empty connection")
            self.transport.loseConnection()
            return
        self._committing = True
        receiver.commit().addCallbacks(self._committed, self._commit_failed)

    def _committed(self, _jobs):
        self.stored = True
        _set_linger(self.transport, _CLOSE_NORMALLY)
        close_now(self.transport, peer_finished=True)

    def writeConnectionLost(self):
        pass

    def _commit_failed(self, failure):
        """Reset, not close: an orderly close is this protocol's "stored", and a job that
        was not stored must not look like one to the client."""
        log.warn("RAW job from {host} not stored: {error} ({kind})", host=self.host, error=failure.value,
                 kind=failure.type.__name__)
        self.transport.abortConnection()

    def _refuse(self, exc):
        log.info("RAW job from {host} refused: {error} ({kind})", host=self.host, error=exc, kind=type(exc).__name__)
        self._discard(str(exc))
        self.transport.abortConnection()

    def _discard(self, reason):
        self._ended = True
        self.setTimeout(None)
        if self.receiver is not None:
            self.receiver.abort(reason)
            self.receiver = None

    def gateway_stopping(self) -> None:
        """The gateway stops: a job that is not being recorded never will be, and its
        sender must see a reset (a job being recorded finishes and is answered)."""
        if self._committing or self.stored:
            return
        self._discard("gateway shutting down")
        self.transport.abortConnection()

    def timeoutConnection(self):
        log.info("RAW client {host} idle for {seconds} s: job discarded", host=self.host,
                 seconds=self.factory.config.idle_timeout)
        self._discard("idle timeout")
        self.transport.abortConnection()

    def connectionLost(self, reason):
        self.setTimeout(None)
        self.factory.connections.discard(self)
        self.factory.ended(self)
        if self.receiver is not None:
            self._discard("connection lost before the job was complete")


class RawFactory(CappedFactoryMixin, Factory):
    def __init__(self, *, intake, config):
        self.intake = intake
        self.config = config
        self.connections: set[RawProtocol] = set()
        self.caps = ConnectionCaps(config.raw_max_connections, config.raw_max_per_address, what="RAW connections")

    def buildProtocol(self, addr):
        return self.counted(addr, lambda: RawProtocol(self))

    def stopFactory(self):
        """The listener closes (the gateway stops): reset every connection whose job is
        not being recorded, before Twisted's own shutdown would close them in order."""
        for protocol in list(self.connections):
            protocol.gateway_stopping()
