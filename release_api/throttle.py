"""A per-device brake on failed logins, in front of the services.

The accounting side owns the real lockout (per name at a source and per source, shared by
every gateway node, audited); this in-process brake stops one panel from being used to
guess PINs at full speed even before a request reaches the database. After
``max_failures`` failures within ``window`` seconds the device is refused for ``lockout``
seconds, twice as long for each further lock in a row, until a login succeeds there. It is
gentle (a short first lock) because everyone at that printer shares it: a passer-by typing
wrong PINs must not lock out the next person for long.
"""
from __future__ import annotations

from release_api.errors import LockedOut
from spooler.failure_brake import FailureBrake


class LoginThrottle(FailureBrake):
    def __init__(self, *, max_failures: int = 20, window: float = 300.0, lockout: float = 30.0,
                 max_lockout: float = 900.0, **options):
        super().__init__(max_failures=max_failures, window=window, lockout=lockout, max_lockout=max_lockout,
                         **options)

    def check(self, device_id: str) -> None:
        left = self.seconds_locked(device_id)
        if left is not None:
            raise LockedOut("too many failed logins at this device", retry_after=left)
