"""SNMPv1/v2c requests over one UDP socket per address family on the asyncio loop (under
the gateway's reactor): each request is encoded by ``spooler.snmp.ber``, sent, and
matched to its answer by request-id and by the address and port it was sent to. A
datagram that does not decode, answers nothing outstanding or comes from elsewhere is
dropped and counted, as pysnmp drops it; the request then times out.

One socket serves a whole poll: its receive buffer is made large (answers of many
printers polled at once arrive together, and a buffer that overflows drops answers,
which then cost a timeout and a retry)."""
from __future__ import annotations

import asyncio
import ipaddress
import random
import socket

from spooler.snmp.ber import BerError, Response, decode_response

#: Receive buffer asked of the kernel (root may exceed net.core.rmem_max).
RECEIVE_BUFFER = 4 << 20
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, channel: "CommunityChannel"):
        self.channel = channel

    def datagram_received(self, data, address):
        self.channel._received(data, address)

    def error_received(self, exc):
        pass  # an ICMP "port unreachable" for one agent: its request times out


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def _socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER)
            break
        except OSError:
            continue
    sock.bind(("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
    sock.setblocking(False)
    return sock


class CommunityChannel:
    def __init__(self):
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._pending: dict[int, tuple[asyncio.Future, tuple]] = {}
        self._next_id = random.randrange(1, 1 << 30)
        self._addresses: dict[tuple, tuple] = {}
        #: Datagrams dropped: undecodable, or answering nothing outstanding from there.
        self.dropped = 0

    def request_id(self) -> int:
        self._next_id = self._next_id % 0x7FFFFFFF + 1
        return self._next_id

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        transport = self._transports.get(family)
        if transport is None:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(lambda: _Receiver(self), sock=_socket(family))
            self._transports[family] = transport
        return transport

    async def resolve(self, host: str, port: int) -> tuple:
        """(family, socket address); a name is resolved once."""
        key = (host, port)
        found = self._addresses.get(key)
        if found is None:
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
                family, _, _, _, address = infos[0]
                found = (family, address[:2])
            else:
                found = (socket.AF_INET6 if ip.version == 6 else socket.AF_INET, (str(ip), port))
            self._addresses[key] = found
        return found

    async def exchange(self, host: str, port: int, request_id: int, message: bytes, timeout: float) -> Response | None:
        """Send ``message`` (carrying ``request_id``) and wait up to ``timeout`` for its
        answer; None when none came."""
        family, address = await self.resolve(host, port)
        transport = await self._transport(family)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        expiry = loop.call_later(timeout, _expire, future)
        self._pending[request_id] = (future, address)
        try:
            transport.sendto(message, address)
            return await future
        finally:
            expiry.cancel()
            self._pending.pop(request_id, None)

    def _received(self, data: bytes, address) -> None:
        try:
            response = decode_response(data)
        except BerError:
            self.dropped += 1
            return
        waiting = self._pending.get(response.request_id)
        if waiting is None or tuple(address[:2]) != waiting[1] or waiting[0].done():
            self.dropped += 1
            return
        waiting[0].set_result(response)

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
