"""The per-device brake on failed logins."""
import pytest

from release_api.errors import LockedOut
from release_api.throttle import LoginThrottle


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_the_fifth_failure_in_the_window_locks_the_device_until_the_lockout_ends():
    clock = Clock()
    throttle = LoginThrottle(max_failures=5, window=60, lockout=120, clock=clock)
    assert [throttle.failed("d") for _ in range(5)] == [False] * 4 + [True]
    with pytest.raises(LockedOut) as caught:
        throttle.check("d")
    assert caught.value.retry_after == 121
    throttle.check("other")
    clock.now = 121
    throttle.check("d")


def test_failures_older_than_the_window_do_not_count():
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, window=10, clock=clock)
    throttle.failed("d")
    throttle.failed("d")
    clock.now = 11
    assert not throttle.failed("d")


def test_a_success_forgets_the_failures():
    throttle = LoginThrottle(max_failures=2, clock=Clock())
    throttle.failed("d")
    throttle.succeeded("d")
    assert not throttle.failed("d")
