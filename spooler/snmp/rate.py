"""The discovery rate: ``coefficient × (2 × credentials + 1)`` packets per second, as
Canon iW EMC sets it — each address may cost a probe and a retry per credential, plus
the read of what answered, so the rate of addresses swept stays near ``coefficient``
however many credentials there are.

A token bucket of one second's worth is too bursty for the agents' side (a whole
second's packets at once); this one holds a single packet's worth, so packets leave
evenly spaced: the n-th no earlier than n / rate seconds after the first."""
from __future__ import annotations

import asyncio
import time

DEFAULT_COEFFICIENT = 30


def discovery_rate(coefficient: float, credentials: int) -> float:
    if coefficient <= 0:
        raise ValueError("the discovery coefficient must be positive")
    return coefficient * (2 * max(1, credentials) + 1)


class PacketPacer:
    """``await take(n)`` returns when ``n`` more packets may leave at ``rate`` per second.
    Callers are served in order; ``clock`` is a monotonic clock (tests pass their own)."""

    def __init__(self, rate: float, *, clock=time.monotonic, sleep=asyncio.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next = None
        self.taken = 0

    def reserve(self, packets: int = 1) -> float:
        """Reserve ``packets`` and return how long to wait before sending them."""
        now = self._clock()
        start = now if self._next is None or self._next < now else self._next
        self._next = start + packets / self.rate
        self.taken += packets
        return start - now

    async def take(self, packets: int = 1) -> None:
        delay = self.reserve(packets)
        if delay > 0:
            await self._sleep(delay)
