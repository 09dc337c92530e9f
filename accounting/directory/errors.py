"""Errors of the directory side. Each carries what a log line or the CLI needs."""
from __future__ import annotations

from accounting.errors import AccountingError


class DirectoryError(AccountingError):
    """Base of the directory errors."""


class DirectoryConfigError(DirectoryError):
    def __init__(self, key: str, problem: str):
        super().__init__(f"directory.{key}: {problem}")
        self.key = key
        self.problem = problem


class DirectoryUnavailable(DirectoryError):
    """No configured server could be reached, secured and bound to (``tried`` holds
    ``(uri, reason)`` per server, in order), or the one in use went away."""

    def __init__(self, tried):
        self.tried = list(tried)
        super().__init__("directory unavailable: " + "; ".join(f"{uri}: {reason}" for uri, reason in self.tried))


class PlaintextRefused(DirectoryError):
    """A bind would send a password in clear; only ``allow_plaintext = true`` permits it."""

    def __init__(self, uri: str):
        super().__init__(f"{uri}: refusing to bind without TLS (use ldaps://, StartTLS, or allow_plaintext = true)")
        self.uri = uri


class MalformedReply(DirectoryError):
    """A server's message could not be read as LDAP (or broke a size bound)."""

    def __init__(self, reason: str, offset: int | None = None):
        super().__init__(f"malformed LDAP reply: {reason}" + (f" at byte {offset}" if offset is not None else ""))
        self.reason = reason
        self.offset = offset


class SyncFailed(DirectoryError):
    """A sync stopped before it could apply anything; the database is as it was."""

    def __init__(self, kind: str, reason: str):
        super().__init__(f"{kind} directory sync failed, nothing changed: {reason}")
        self.kind = kind
        self.reason = reason


class NotInDirectory(DirectoryError):
    def __init__(self, username: str):
        super().__init__(f"no directory entry for {username!r}")
        self.username = username
