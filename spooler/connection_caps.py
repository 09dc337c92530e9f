"""Connections open at once, in all and per client address, against limits.

Every listener counts its connections this way (LPD, RAW, IPP, the HTTPS port): one
address that opens connections and then sends nothing, or a byte now and then, must not
use up the gateway's sockets, memory and threads for everyone else.
"""
from __future__ import annotations

from twisted.logger import Logger

log = Logger()
_UNCOUNTED = object()


class ConnectionCaps:
    def __init__(self, max_total: int = 1024, max_per_address: int = 64, *, what: str = "connections"):
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.what = what
        self.total = 0
        self.by_address: dict = {}

    def admit(self, host) -> str | None:
        """Count a new connection from ``host`` in, or say why it is refused."""
        if self.total >= self.max_total:
            return f"{self.total} {self.what} already open"
        here = self.by_address.get(host, 0)
        if here >= self.max_per_address:
            return f"{here} {self.what} from {host} already open"
        self.total += 1
        self.by_address[host] = here + 1
        return None

    def release(self, host) -> None:
        """A connection ``admit`` counted has ended."""
        self.total -= 1
        left = self.by_address.get(host, 0) - 1
        if left > 0:
            self.by_address[host] = left
        else:
            self.by_address.pop(host, None)


class CappedFactoryMixin:
    """For a factory with ``caps`` (a ``ConnectionCaps``): ``counted(addr, build)`` is its
    ``buildProtocol`` (None over the caps, which makes Twisted close the socket at once),
    and its protocols call ``ended(self)`` from ``connectionLost``."""

    caps: ConnectionCaps

    def counted(self, addr, build):
        host = getattr(addr, "host", None)
        refusal = self.caps.admit(host)
        if refusal is not None:
            log.warn("connection from {host} refused: {reason}", host=host, reason=refusal)
            return None
        protocol = build()
        protocol.counted_host = host
        return protocol

    def ended(self, protocol) -> None:
        """Counted once, however often a protocol is told its connection was lost."""
        if getattr(protocol, "counted_host", _UNCOUNTED) is not _UNCOUNTED:
            self.caps.release(protocol.counted_host)
            protocol.counted_host = _UNCOUNTED
