"""Send a short answer now, not on the reactor's next turn.

Twisted's ``transport.write`` only buffers: it asks the reactor to watch the socket for
writability, and on the next turn of the loop sends, then stops watching. For an answer of
one byte that the client is waiting for (LPD sends four per job) or one IPP response, that
is two epoll changes and a whole turn of the asyncio loop before the byte leaves.
``write_now`` sends straight away when nothing else is queued on the connection, which
keeps the bytes in order, and hands anything the socket did not take (or any error) to
``transport.write``, so Twisted's own buffering and error handling take over from there.
"""
from __future__ import annotations

from twisted.internet import tcp


def write_now(transport, data: bytes) -> None:
    """``transport.write(data)``, sent immediately when that is safe: a plain TCP
    connection (not TLS, whose transport is a wrapper) with nothing already waiting to
    be sent and not closing."""
    if (
        type(transport) is not tcp.Server
        or transport.dataBuffer
        or transport._tempDataBuffer
        or not transport.connected
        or transport.disconnecting
        or transport._writeDisconnected
    ):
        transport.write(data)
        return
    try:
        sent = transport.socket.send(data)
    except OSError:  # would block, or the connection broke: Twisted's path deals with it
        sent = 0
    if sent < len(data):
        transport.write(data[sent:])
