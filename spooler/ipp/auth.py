"""HTTP Basic authentication for IPP, checked against the gateway's local users.

The password check is the panel's own (``AccountingService.verify_password``: Argon2id,
per-user and per-device lockouts shared by every node, each attempt audited), with the
client's address as the device (``ipp:<address>``). In front of it sits ``PeerBrake``,
an in-process brake per address, so one host cannot keep the thread pool busy hashing
guesses. Credentials are only ever looked at over TLS; the caller enforces that.

``parse_basic`` is sans-IO; ``PasswordCheck`` returns Deferreds and never sees a socket.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from typing import Callable

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger

from accounting.errors import LoginFailed, LoginLocked
from accounting.time import utcnow
from spooler.errors import SpoolerError
from spooler.failure_brake import FailureBrake

log = Logger()

__all__ = [
    "AuthenticationError", "BadCredentials", "WrongPassword", "TooManyFailures",
    "parse_basic", "PeerBrake", "PasswordCheck", "REALM",
]

REALM = "Printgate"
MAX_CREDENTIALS = 1024


class AuthenticationError(SpoolerError):
    """Base of what can go wrong with the credentials of an IPP request."""


class BadCredentials(AuthenticationError):
    """The Authorization header cannot be read as Basic credentials."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class WrongPassword(AuthenticationError):
    """Unknown user, wrong password or disabled user: deliberately not told apart."""

    def __init__(self, user: str, peer: str):
        super().__init__(f"login failed for {user!r} from {peer}")
        self.user = user
        self.peer = peer


class TooManyFailures(AuthenticationError):
    def __init__(self, peer: str, retry_after: int):
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.peer = peer
        self.retry_after = retry_after


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic`` value; None when there is no
    header or it names another scheme (which we do not offer); ``BadCredentials`` when a
    Basic value is malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    token = token.strip()
    if not token or len(token) > MAX_CREDENTIALS:
        raise BadCredentials("malformed Basic credentials")
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise BadCredentials("malformed Basic credentials") from None
    user, sep, password = decoded.partition(":")
    if not sep or not user or any(ord(c) < 0x20 for c in user):
        raise BadCredentials("malformed Basic credentials")
    return user, password


class PeerBrake(FailureBrake):
    """``FailureBrake`` per client address (or per job, for job PINs) whose ``check``
    raises ``TooManyFailures``. By default a minute's lock after 5 failures, doubling with
    each further lock up to an hour: it slows one address, and locks no user anywhere else
    (accounting counts a user's failures per address too)."""

    def __init__(self, *, max_failures: int = 5, window: float = 300.0, lockout: float = 60.0,
                 max_lockout: float = 3600.0, **options):
        super().__init__(max_failures=max_failures, window=window, lockout=lockout, max_lockout=max_lockout,
                         **options)

    def check(self, peer: str) -> None:
        left = self.seconds_locked(peer)
        if left is not None:
            raise TooManyFailures(peer, left)


class PasswordCheck:
    """``verify(user, password, peer) -> Deferred[str]`` (the user's name as accounting
    spells it), failing with ``WrongPassword`` or ``TooManyFailures``.

    A client that is refused sends the same credentials again, on a new connection, a few
    times (libcups does): within ``repeat_window`` seconds a repeat of refused credentials
    from the same address is refused again without being counted, so that one typo is
    one failure and does not lock the user out of the panel too. What is remembered is a
    keyed digest (HMAC, key made at start, never written anywhere), for that window only.
    """

    def __init__(self, jobs, *, brake: PeerBrake | None = None, repeat_window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, capacity: int = 1000):
        self.jobs = jobs  # a spooler.job_desk.JobDesk
        self.brake = brake or PeerBrake()
        self.repeat_window = repeat_window
        self.clock = clock
        self.capacity = capacity
        self._key = secrets.token_bytes(32)
        self._refused: OrderedDict[bytes, float] = OrderedDict()

    def _digest(self, user: str, password: str, peer: str) -> bytes:
        text = "\0".join((peer, user, password)).encode("utf-8", "surrogatepass")
        return hmac.new(self._key, text, hashlib.sha256).digest()

    def _refused_recently(self, digest: bytes) -> bool:
        now = self.clock()
        while self._refused and next(iter(self._refused.values())) <= now - self.repeat_window:
            self._refused.popitem(last=False)
        return digest in self._refused

    def verify(self, user: str, password: str, peer: str) -> Deferred:
        try:
            self.brake.check(peer)
        except TooManyFailures as exc:
            log.info("IPP login from {host} refused: address locked for {seconds} s",
                     host=peer, seconds=exc.retry_after)
            return fail(exc)
        digest = self._digest(user, password, peer)
        if self._refused_recently(digest):
            return fail(WrongPassword(user, peer))
        d = self.jobs.verify_password(user, password, device=f"ipp:{peer}")

        def ok(found):
            self.brake.succeeded(peer)
            log.info("IPP login of {user} from {host}", user=found.username, host=peer)
            return found.username

        def refused(failure):
            if failure.check(LoginLocked):
                locked = failure.value
                seconds = max(1, int((locked.until - utcnow()).total_seconds()) + 1)
                log.info("IPP login of {user} from {host} refused: {scope} locked",
                         user=user, host=peer, scope=locked.scope)
                raise TooManyFailures(peer, seconds)
            if failure.check(LoginFailed):
                self.brake.failed(peer)
                self._refused[digest] = self.clock()
                while len(self._refused) > self.capacity:
                    self._refused.popitem(last=False)
                log.info("IPP login failed for {user} from {host}", user=user, host=peer)
                raise WrongPassword(user, peer)
            return failure

        return d.addCallbacks(ok, refused)
