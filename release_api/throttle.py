"""A per-device brake on failed logins, in front of the services.

The accounting side owns the real lockout (per user and per device, shared by every
gateway node, audited); this in-process brake stops one panel from being used to guess
PINs at full speed even before a request reaches the database. After ``max_failures``
failures within ``window`` seconds the device is refused for ``lockout`` seconds.
"""
from __future__ import annotations

from release_api.errors import LockedOut
from spooler.failure_brake import FailureBrake


class LoginThrottle(FailureBrake):
    def check(self, device_id: str) -> None:
        left = self.seconds_locked(device_id)
        if left is not None:
            raise LockedOut("too many failed logins at this device", retry_after=left)
