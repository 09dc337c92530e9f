import sys

import pytest

from tests.fixtures.gateway import start_gateway

pytest_plugins = ["tests.fixtures.webhook"]  # the ``webhook`` fixture, for every test that asks


@pytest.fixture
def gateway(tmp_path):
    """A gateway process with LPD and RAW on free loopback ports and its own data directory."""
    process = start_gateway(tmp_path)
    yield process
    process.stop()


def pytest_unconfigure(config):
    """Stop the global reactor's thread pool if a test started it.

    Tests that drive the global reactor end it with ``reactor.crash()``, which skips the
    shutdown triggers, so the pool's (non-daemon) threads would outlive the session and
    Python would wait for them forever after the summary line: CI then times out with
    every test passed."""
    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import reactor

    pool = getattr(reactor, "threadpool", None)
    if pool is not None and pool.started:
        pool.stop()
