"""Choosing listening ports: standard when possible, the fallback otherwise, 0 disables."""
from twisted.internet.error import CannotListenError

from spooler.config import GatewayConfig
from gateway.process import Gateway


class FakePort:
    def __init__(self, number):
        self.number = number

    def getHost(self):
        return type("Host", (), {"port": self.number})()


class PickyReactor:
    """Refuses privileged ports like an unprivileged process would see them refused."""

    def __init__(self):
        self.bound = []

    def listenTCP(self, port, factory, interface=""):
        if port < 1024:
            raise CannotListenError(interface, port, PermissionError(13, "Permission denied"))
        self.bound.append(port)
        return FakePort(port)


def test_a_standard_port_that_cannot_be_bound_falls_back_and_says_so():
    gateway = Gateway(GatewayConfig(), reactor=PickyReactor())
    listener = gateway._listen("lpd", factory=None)
    assert listener.number == 10515
    assert "515" in listener.note and "10515" in listener.note


def test_a_port_given_explicitly_is_used_and_zero_disables():
    config = GatewayConfig()
    config.ports = {"raw": 29100, "lpd": 0}
    gateway = Gateway(config, reactor=PickyReactor())
    assert gateway._listen("raw", factory=None).number == 29100
    assert gateway._listen("lpd", factory=None) is None
