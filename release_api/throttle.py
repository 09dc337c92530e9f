"""A per-device brake on failed logins, in front of the services.

The accounting side owns the real lockout (per user and per device, shared by every
gateway node, audited); this in-process brake stops one panel from being used to guess
PINs at full speed even before a request reaches the database. After ``max_failures``
failures within ``window`` seconds the device is refused for ``lockout`` seconds.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Callable

from release_api.errors import LockedOut


class LoginThrottle:
    def __init__(self, *, max_failures: int = 5, window: float = 300.0, lockout: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, capacity: int = 10_000):
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.clock = clock
        self.capacity = capacity
        self._failures: dict[str, deque] = {}
        self._locked_until: dict[str, float] = {}

    def check(self, device_id: str) -> None:
        until = self._locked_until.get(device_id)
        if until is None:
            return
        left = until - self.clock()
        if left > 0:
            raise LockedOut("too many failed logins at this device", retry_after=int(left) + 1)
        del self._locked_until[device_id]

    def failed(self, device_id: str) -> bool:
        """Record a failure; ``True`` if this one locked the device."""
        now = self.clock()
        failures = self._failures.setdefault(device_id, deque())
        failures.append(now)
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(self._failures) > self.capacity:
            self._failures.pop(next(iter(self._failures)))
        if len(failures) >= self.max_failures:
            self._locked_until[device_id] = now + self.lockout
            failures.clear()
            return True
        return False

    def succeeded(self, device_id: str) -> None:
        self._failures.pop(device_id, None)
