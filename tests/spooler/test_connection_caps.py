"""Every listener caps its connections, in all and per client address."""
import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from spooler.connection_caps import ConnectionCaps
from spooler.lpd.protocol import LpdFactory
from spooler.raw.protocol import RawFactory
from tests.spooler.support import FakeJobDesk, make_stack


def test_caps_count_per_address_and_in_all():
    caps = ConnectionCaps(3, 2, what="test connections")
    assert caps.admit("a") is None and caps.admit("a") is None
    assert caps.admit("a") == "2 test connections from a already open"
    assert caps.admit("b") is None
    assert caps.admit("c") == "3 test connections already open"
    caps.release("a")
    assert caps.admit("c") is None
    for host in ("a", "b", "c"):
        caps.release(host)
    assert caps.total == 0 and caps.by_address == {}


def _connect(factory, host):
    protocol = factory.buildProtocol(IPv4Address("TCP", host, 721))
    if protocol is None:
        return None
    protocol.makeConnection(StringTransport(peerAddress=IPv4Address("TCP", host, 721)))
    return protocol


def test_lpd_and_raw_refuse_an_address_over_its_cap_and_free_the_slot_on_close(tmp_path):
    stack = make_stack(tmp_path)
    try:
        for factory in (LpdFactory(intake=stack.intake, jobs=FakeJobDesk(stack.jobs, stack.spool),
                                   config=stack.config),
                        RawFactory(intake=stack.intake, config=stack.config)):
            factory.caps.max_per_address = 2
            first, second = _connect(factory, "192.0.2.9"), _connect(factory, "192.0.2.9")
            assert first is not None and second is not None
            assert _connect(factory, "192.0.2.9") is None
            other = _connect(factory, "192.0.2.10")
            assert other is not None
            first.connectionLost(None)
            third = _connect(factory, "192.0.2.9")
            assert third is not None
            for protocol in (second, other, third):
                protocol.connectionLost(None)
                protocol.connectionLost(None)  # counted once however often it is told
            assert factory.caps.total == 0 and factory.caps.by_address == {}
    finally:
        stack.close()


def test_lpd_and_raw_caps_come_from_the_configuration(tmp_path):
    from spooler.config import ConfigError, load_config

    path = tmp_path / "printgate.toml"
    path.write_text("[lpd]\nmax_per_address = 5\n[raw]\nmax_connections = 7\n")
    config = load_config(path, data_dir=tmp_path)
    assert (config.lpd_max_connections, config.lpd_max_per_address) == (1024, 5)
    assert (config.raw_max_connections, config.raw_max_per_address) == (7, 256)
    stack = make_stack(tmp_path)
    try:
        stack.config.lpd_max_per_address, stack.config.raw_max_connections = 5, 7
        lpd = LpdFactory(intake=stack.intake, jobs=FakeJobDesk(stack.jobs, stack.spool),
                         config=stack.config)
        raw = RawFactory(intake=stack.intake, config=stack.config)
        assert (lpd.caps.max_total, lpd.caps.max_per_address) == (1024, 5)
        assert (raw.caps.max_total, raw.caps.max_per_address) == (7, 256)
    finally:
        stack.close()
    path.write_text("[raw]\nmax_per_address = 0\n")
    with pytest.raises(ConfigError):
        load_config(path, data_dir=tmp_path)
