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
    Callers take turns (a lock), and each turn is spaced from the *actual* previous one,
    so a caller that woke late never lets the next one go early: packets that leave
    bunched would be what an agent sees, whatever the schedule said. ``clock`` and
    ``sleep`` are the monotonic clock and asyncio's sleep (tests pass their own)."""

    def __init__(self, rate: float, *, clock=time.monotonic, sleep=asyncio.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next = None
        self._lock = None
        self.taken = 0

    async def take(self, packets: int = 1) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = self._clock()
            if self._next is not None and self._next > now:
                await self._sleep(self._next - now)
                now = self._clock()
            self._next = now + packets / self.rate
            self.taken += packets
