"""A brake on failed logins per key (a device, a client address, a job), in memory.

After ``max_failures`` failures within ``window`` seconds the key is locked for
``lockout`` seconds, before any password is hashed; each further lock in a row lasts twice
as long as the one before, up to ``max_lockout`` (by default no doubling), until a success. At most ``capacity`` keys are
remembered (the least recently failed are forgotten first), so a flood of addresses
cannot grow it without bound. Accounting keeps the real, shared and audited lockouts;
this stops one client from guessing at full speed before a request costs anything.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Callable


class FailureBrake:
    def __init__(self, *, max_failures: int = 5, window: float = 300.0, lockout: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, capacity: int = 10_000,
                 max_lockout: float | None = None):
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.max_lockout = lockout if max_lockout is None else max(lockout, max_lockout)
        self.clock = clock
        self.capacity = capacity
        self._failures: dict[str, deque] = {}
        self._locked_until: dict[str, float] = {}
        self._locks_in_a_row: dict[str, int] = {}

    def seconds_locked(self, key: str) -> int | None:
        """Whole seconds (rounded up) until ``key`` may try again, or None if it may now."""
        until = self._locked_until.get(key)
        if until is None:
            return None
        left = until - self.clock()
        if left > 0:
            return int(left) + 1
        del self._locked_until[key]
        return None

    def failed(self, key: str) -> bool:
        """Count a failure; True if this one locked the key."""
        now = self.clock()
        failures = self._failures.pop(key, None) or deque()
        self._failures[key] = failures  # newest last, so the oldest go first
        failures.append(now)
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        while len(self._failures) > self.capacity:
            self._failures.pop(next(iter(self._failures)))
        if len(failures) < self.max_failures:
            return False
        locks = self._locks_in_a_row.pop(key, 0) + 1
        self._locks_in_a_row[key] = locks
        self._locked_until[key] = now + self.lock_seconds(locks)
        failures.clear()
        for table in (self._locked_until, self._locks_in_a_row):
            while len(table) > self.capacity:
                table.pop(next(iter(table)))
        return True

    def lock_seconds(self, locks_in_a_row: int) -> float:
        """How long the ``locks_in_a_row``-th lock in a row (1 = the first) lasts."""
        return min(self.max_lockout, self.lockout * 2 ** max(0, min(locks_in_a_row - 1, 30)))

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
        self._locks_in_a_row.pop(key, None)
