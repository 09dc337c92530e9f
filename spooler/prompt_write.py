"""Send a short answer, or the close that is the answer, now, not on the reactor's next turn.

Twisted's ``transport.write`` only buffers: it asks the reactor to watch the socket for
writability, and on the next turn of the loop sends, then stops watching. For an answer of
one byte that the client is waiting for (LPD sends four per job) or one IPP response, that
is two epoll changes and a whole turn of the asyncio loop before the byte leaves.
``write_now`` sends straight away when nothing else is queued on the connection, which
keeps the bytes in order, and hands anything the socket did not take (or any error) to
``transport.write``, so Twisted's own buffering and error handling take over from there.

``loseConnection`` waits for a turn of the loop the same way, even with nothing to send;
on RAW the close is the acknowledgement. ``close_now`` sends the FIN at once (a shutdown
of our sending side) and leaves the rest of the closing to Twisted. When the peer has
already finished sending (a RAW client half-closes after its job) there is nothing left
for Twisted to wait for either, and ``close_now`` ends the connection there and then, as
Twisted's own ``loseConnection`` does on a connection whose writing side is already shut:
no writer registered, no turn of the loop, one shutdown instead of two.

This reaches into Twisted's ``tcp.Server`` (``dataBuffer``, ``_tempDataBuffer``,
``_writeDisconnected``, calling ``connectionLost``) and is kept only for what it was
measured to save: on Twisted 26.10.0, in interleaved A/B runs of
``benchmarks/ab_intake.py`` (fresh gateways taking turns, 4 and 6 rounds, 2026-12-07, on a
machine other work kept at a load of 12-17), the gateway without it used 7-11% more CPU
per job for LPD at 8 clients and 4-25% more for IPP, RAW unchanged within noise. Check
again when Twisted changes: ``tests/spooler/test_prompt_write.py`` pins the behaviour.
"""
from __future__ import annotations

import socket

from twisted.internet import main, tcp
from twisted.python.failure import Failure


def _nothing_waiting(transport) -> bool:
    """A plain TCP connection (not TLS, whose transport is a wrapper), open, not closing,
    with nothing already waiting to be sent."""
    return (
        type(transport) is tcp.Server
        and not transport.dataBuffer
        and not transport._tempDataBuffer
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
    )


def write_now(transport, data: bytes) -> None:
    """``transport.write(data)``, sent immediately when nothing is waiting before it."""
    if not _nothing_waiting(transport):
        transport.write(data)
        return
    try:
        sent = transport.socket.send(data)
    except OSError:  # would block, or the connection broke: Twisted's path deals with it
        sent = 0
    if sent < len(data):
        transport.write(data[sent:])


def close_now(transport, *, peer_finished: bool = False) -> None:
    """``transport.loseConnection()``, with the FIN sent immediately when nothing is
    waiting to be sent before it. ``peer_finished``: the peer half-closed and reading has
    stopped (``readConnectionLost``), so with nothing to send the connection is ended
    now and the protocol's ``connectionLost`` runs before this returns."""
    if not _nothing_waiting(transport):
        transport.loseConnection()  # Twisted sends what waits, then closes
        return
    if peer_finished:
        # What loseConnection does itself once writing is shut: stop watching the
        # socket, shut it down and close it, and tell the protocol.
        transport.connectionLost(Failure(main.CONNECTION_DONE))
        return
    try:
        transport.socket.shutdown(socket.SHUT_WR)
    except OSError:  # already gone: Twisted's close reports it
        pass
    transport.loseConnection()
