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


def test_each_further_lock_in_a_row_lasts_twice_as_long_until_a_success():
    clock = Clock()
    throttle = LoginThrottle(max_failures=2, window=60, lockout=30, max_lockout=100, clock=clock)
    locks = []
    for _ in range(4):
        throttle.failed("d")
        throttle.failed("d")
        locks.append(throttle.seconds_locked("d"))
        clock.now += 200
    assert locks == [31, 61, 101, 101]
    throttle.succeeded("d")
    throttle.failed("d")
    throttle.failed("d")
    assert throttle.seconds_locked("d") == 31


def test_by_default_a_few_wrong_pins_at_a_panel_do_not_lock_it():
    throttle = LoginThrottle(clock=Clock())
    assert not any(throttle.failed("d") for _ in range(19))
