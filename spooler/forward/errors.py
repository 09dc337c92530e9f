"""Errors of forwarding a held job to a printer.

Each carries what a log line, the panel's error message and the retry policy need: the
target, how many bytes of the job had left us, and whether trying again could help.
"""
from __future__ import annotations

from spooler.errors import SpoolerError

__all__ = [
    "ForwardError",
    "PrinterUnreachable",
    "PrinterRefusedJob",
    "ConnectionLostMidway",
    "ForwardTimeout",
    "SourceChanged",
    "InjectionError",
    "UnsupportedProtocol",
    "BadTarget",
    "PrinterNotTrusted",
    "DocumentFormatUnsupported",
]


class ForwardError(SpoolerError):
    """Base of forwarding failures. ``retryable`` says whether a new attempt may succeed
    without risking a second (partial) print: only failures before any document byte was
    handed to the printer are retried."""

    kind = "error"
    retryable = False

    def __init__(self, message: str, *, target: str | None = None, bytes_sent: int = 0):
        super().__init__(message)
        self.target = target
        self.bytes_sent = bytes_sent


class PrinterUnreachable(ForwardError):
    """The TCP connection could not be made (refused, no route, DNS)."""

    kind = "refused"
    retryable = True


class PrinterRefusedJob(ForwardError):
    """The printer answered but said no (LPD negative acknowledgement)."""

    kind = "rejected"

    def __init__(self, message: str, *, stage: str, code: int, target: str | None = None,
                 bytes_sent: int = 0, retryable: bool = False):
        super().__init__(message, target=target, bytes_sent=bytes_sent)
        self.stage = stage
        self.code = code
        self.retryable = retryable


class ConnectionLostMidway(ForwardError):
    """The connection ended before the printer acknowledged the whole job."""

    kind = "connection-lost"

    def __init__(self, message: str, *, target: str | None = None, bytes_sent: int = 0,
                 total_bytes: int | None = None, before_document: bool = False):
        super().__init__(message, target=target, bytes_sent=bytes_sent)
        self.total_bytes = total_bytes
        self.retryable = before_document


class ForwardTimeout(ForwardError):
    """A connect, an acknowledgement or the whole job took longer than allowed."""

    kind = "timeout"

    def __init__(self, message: str, *, stage: str, seconds: float, target: str | None = None,
                 bytes_sent: int = 0, before_document: bool = False):
        super().__init__(message, target=target, bytes_sent=bytes_sent)
        self.stage = stage
        self.seconds = seconds
        self.retryable = before_document


class SourceChanged(ForwardError):
    """The spool produced a different length than announced to the printer."""

    kind = "source-error"

    def __init__(self, message: str, *, expected: int, produced: int, target: str | None = None):
        super().__init__(message, target=target, bytes_sent=produced)
        self.expected = expected
        self.produced = produced


class InjectionError(ForwardError):
    """Forced settings could not be applied to the job's bytes (e.g. a PJL header longer
    than we are willing to hold); the job is not sent rather than sent unchanged."""

    kind = "injection-error"

    def __init__(self, message: str, *, offset: int):
        super().__init__(message)
        self.offset = offset


class UnsupportedProtocol(ForwardError):
    """No sender is registered for the device's protocol."""

    kind = "unsupported-protocol"

    def __init__(self, protocol: str):
        super().__init__(f"no sender for protocol {protocol!r}")
        self.protocol = protocol


class BadTarget(ForwardError):
    """The device description cannot be used (bad port, empty host, bad queue name)."""

    kind = "bad-target"


class PrinterNotTrusted(ForwardError):
    """An ``ipps://`` printer's certificate failed its check (pinned fingerprint, CA, or
    name). Nothing was sent, and nothing is sent over plain IPP instead."""

    kind = "untrusted"

    def __init__(self, message: str, *, target: str | None = None):
        super().__init__(message, target=target)


class DocumentFormatUnsupported(ForwardError):
    """The printer lists no document format that fits the job's language."""

    kind = "unsupported-format"

    def __init__(self, message: str, *, target: str | None = None, supported=()):
        super().__init__(message, target=target)
        self.supported = tuple(supported)
