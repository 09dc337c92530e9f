import pytest

from tests.fixtures.gateway import start_gateway


@pytest.fixture
def gateway(tmp_path):
    """A gateway process with LPD and RAW on free loopback ports and its own data directory."""
    process = start_gateway(tmp_path)
    yield process
    process.stop()
