"""write_now: a short answer leaves at once, in order, and nothing is ever lost."""
import socket

import pytest
from twisted.internet import tcp
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.internet.testing import StringTransport

from spooler.prompt_write import close_now, write_now


class WatchingReactor:
    """Just enough of a reactor for a tcp.Server: records what it was asked to watch."""

    def __init__(self):
        self.writers = set()

    def addReader(self, selectable):
        pass

    def removeReader(self, selectable):
        pass

    def addWriter(self, selectable):
        self.writers.add(selectable)

    def removeWriter(self, selectable):
        self.writers.discard(selectable)


class RecordingProtocol(Protocol):
    def __init__(self):
        self.lost = []

    def connectionLost(self, reason):
        self.lost.append(reason)


@pytest.fixture
def connection():
    ours, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.setblocking(False)
    peer.settimeout(5)
    reactor = WatchingReactor()
    protocol = RecordingProtocol()
    server = tcp.Server(ours, protocol, ("127.0.0.1", 5150), None, 1, reactor)
    protocol.makeConnection(server)
    yield server, peer, reactor
    ours.close()
    peer.close()


def test_an_answer_leaves_at_once_without_waiting_for_the_reactor(connection):
    server, peer, reactor = connection
    write_now(server, b"\x00")
    assert peer.recv(10) == b"\x00"
    assert reactor.writers == set() and not server._tempDataBuffer


def test_an_answer_queues_behind_bytes_already_waiting(connection):
    server, peer, reactor = connection
    server.write(b"first ")
    write_now(server, b"second")
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(100)  # nothing jumped the queue
    server.doWrite()
    peer.settimeout(5)
    assert peer.recv(100) == b"first second"


def test_what_a_full_socket_does_not_take_is_sent_later_by_twisted(connection):
    server, peer, reactor = connection
    data = bytes(range(256)) * 16 * 1024  # 4 MiB: more than the socket buffers hold
    write_now(server, data)
    assert server in reactor.writers  # the rest waits in Twisted's buffer
    received = bytearray()
    while len(received) < len(data):
        received += peer.recv(1 << 20)
        if server in reactor.writers:
            server.doWrite()
    assert bytes(received) == data


def test_a_connection_the_peer_has_gone_from_does_not_raise(connection):
    server, peer, reactor = connection
    peer.close()
    write_now(server, b"\x00")  # Twisted's own write path reports the loss later


def test_a_transport_that_is_not_plain_tcp_gets_an_ordinary_write():
    transport = StringTransport()
    write_now(transport, b"\x00")
    assert transport.value() == b"\x00"


def test_a_closing_connection_gets_an_ordinary_write(connection):
    server, peer, reactor = connection
    server.disconnecting = True
    write_now(server, b"late")
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(100)


def test_a_close_reaches_the_peer_at_once_and_twisted_still_finishes_it(connection):
    server, peer, reactor = connection
    close_now(server)
    assert peer.recv(10) == b""  # end of stream, before any turn of the reactor
    assert server.disconnecting and server in reactor.writers  # Twisted's close follows


def test_a_close_waits_behind_bytes_not_yet_sent(connection):
    server, peer, reactor = connection
    server.write(b"status")
    close_now(server)
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(100)  # neither the bytes nor the end went ahead of the reactor


def test_a_close_after_the_peer_finished_ends_the_connection_before_returning(connection):
    server, peer, reactor = connection
    protocol, ours = server.protocol, server.socket
    peer.shutdown(socket.SHUT_WR)  # the client's half-close: its job is sent
    close_now(server, peer_finished=True)
    assert peer.recv(10) == b""  # an orderly end, no reset
    assert len(protocol.lost) == 1 and protocol.lost[0].check(ConnectionDone)
    assert reactor.writers == set()  # nothing left for a turn of the reactor
    assert ours.fileno() == -1  # the socket is closed, not left to Twisted


def test_a_close_after_the_peer_finished_still_waits_behind_bytes_not_yet_sent(connection):
    server, peer, reactor = connection
    server.write(b"status")
    close_now(server, peer_finished=True)
    assert server.disconnecting and server in reactor.writers  # Twisted sends, then closes
    server.doWrite()
    assert peer.recv(100) == b"status"
