"""The discovery rate: ``coefficient × (2 × credentials + 1)`` packets per second, as
Canon iW EMC sets it — each address may cost a probe and a retry per credential, plus
the read of what answered, so the rate of addresses swept stays near ``coefficient``
however many credentials there are.

Packets leave on an absolute schedule, the n-th at n / rate seconds: a loop that woke
late (a busy machine wakes a 10 ms sleep 10-90 ms late) sends what it owes at once, so
lateness does not pile up and slow the sweep — measured on a loaded 2-core machine,
spacing each packet from the actual previous one made a 1,000-address sweep take 6x
the time its rate allows. What a late loop may make up is bounded (``catch_up``, 0.1 s
of the schedule, at least one packet), and idling earns nothing: no second ever holds
more than rate x (1 + catch_up) + 1 packets."""
from __future__ import annotations

import asyncio
import time

DEFAULT_COEFFICIENT = 30
CATCH_UP = 0.1


def discovery_rate(coefficient: float, credentials: int) -> float:
    if coefficient <= 0:
        raise ValueError("the discovery coefficient must be positive")
    return coefficient * (2 * max(1, credentials) + 1)


class PacketPacer:
    """``await take(n)`` returns when ``n`` more packets may leave at ``rate`` per second.
    Callers take turns (a lock). ``clock`` and ``sleep`` are the monotonic clock and
    asyncio's sleep (tests pass their own)."""

    def __init__(self, rate: float, *, catch_up: float = CATCH_UP, clock=time.monotonic, sleep=asyncio.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        #: Seconds of the schedule a late loop may make up.
        self.credit = max(1.0, rate * catch_up) / rate
        self._clock = clock
        self._sleep = sleep
        self._next = None
        self._last = None
        self._lock = None
        self.taken = 0

    async def take(self, packets: int = 1) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = self._clock()
            if self._next is None or now - self._last > self.credit + 1 / self.rate:
                slot = now  # the first turn, or after idling: no credit
            else:
                slot = max(self._next, now - self.credit)
            if slot > now:
                await self._sleep(slot - now)
            self._next = slot + packets / self.rate
            self._last = self._clock()
            self.taken += packets
