"""Errors of the SNMP side, carrying the agent they concern."""
from spooler.errors import SpoolerError


class SnmpError(SpoolerError):
    """Base of the SNMP errors."""

    def __init__(self, message: str, *, address: str = "", port: int = 0):
        super().__init__(message)
        self.address = address
        self.port = port


class SnmpTimeout(SnmpError):
    """No answer within the timeout after every retry (a dead host, or a v1/v2c
    community the agent does not know: it stays silent)."""


class SnmpAuthError(SnmpError):
    """The agent answered that the SNMPv3 user, key or engine is wrong."""


class SnmpReplyError(SnmpError):
    """The agent answered with an error status, or something we cannot use."""


class BadTarget(SnmpError):
    """A discovery target that is not an address, ADDRESS:PORT, CIDR or A-B range."""

    def __init__(self, text: str, reason: str):
        super().__init__(f"bad target {text!r}: {reason}")
        self.text = text
        self.reason = reason
