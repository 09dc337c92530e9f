"""Web sessions: a random token in a ``__Host-`` cookie (``Secure``, ``HttpOnly``,
``SameSite=Strict``, ``Path=/``), the session itself in this process's memory.

A session starts anonymous (it carries the login form's CSRF token) and is replaced by
a new one — new token, new CSRF token — at login and again when the second factor lifts
it to its roles (``rotate``), so a token planted before login is worth nothing after it
(session fixation). It ends after ``idle_timeout`` without a request (15 minutes), after
``max_age`` in any case (8 hours), at logout, or when revoked (``end_user``: roles
changed, user disabled). Bounded: the oldest sessions go first beyond ``capacity``.

Only a SHA-256 of each token is kept as the key, so a memory dump or the admin's session
list never shows a usable token.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from release_api.web.services import WebUser

COOKIE = b"__Host-pg_web"
#: While a single sign-on is under way only: the same anonymous session, in a
#: ``SameSite=Lax`` cookie, because the provider's redirect back to us is a cross-site
#: navigation that carries no ``Strict`` cookie. The login then starts a new session.
SSO_COOKIE = b"__Host-pg_sso"


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass
class WebSession:
    key: str
    csrf: str
    created: float
    last_seen: float
    address: str = ""
    user_agent: str = ""
    user: WebUser | None = None
    #: The second factor was given (or is not required): the roles apply.
    elevated: bool = False
    enrolment: object = None
    oidc: dict = field(default_factory=dict)
    second_factor_failures: int = 0
    flash: str = ""
    #: "ok" for what went through, "error" for what a person must put right.
    flash_kind: str = "ok"
    next_path: str = "/"

    @property
    def signed_in(self) -> bool:
        return self.user is not None and (self.elevated or not self.user.privileged)

    def csrf_matches(self, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(submitted.encode("utf-8", "replace"), self.csrf.encode())


class WebSessions:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, idle_timeout: float = 15 * 60,
                 max_age: float = 8 * 3600, capacity: int = 50_000):
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self.capacity = capacity
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()

    def __len__(self):
        return len(self._sessions)

    def open(self, *, address: str = "", user_agent: str = "") -> tuple[str, WebSession]:
        """A new anonymous session: (token for the cookie, session)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = WebSession(key=_key(token), csrf=secrets.token_urlsafe(24), created=now, last_seen=now,
                             address=address, user_agent=user_agent[:255])
        self._sessions[session.key] = session
        while len(self._sessions) > self.capacity:
            self._sessions.popitem(last=False)
        return token, session

    def find(self, token: str | None) -> WebSession | None:
        """The live session for ``token`` (touching it), or None."""
        if not token or len(token) > 128:
            return None
        session = self._sessions.get(_key(token))
        if session is None:
            return None
        now = self.clock()
        if now - session.last_seen > self.idle_timeout or now - session.created > self.max_age:
            self.end(session)
            return None
        session.last_seen = now
        self._sessions.move_to_end(session.key)
        return session

    def rotate(self, old: WebSession, *, user: WebUser | None, elevated: bool) -> tuple[str, WebSession]:
        """End ``old``; a new session (new token, new CSRF token) carries on. The
        absolute lifetime counts from the login, not from the anonymous visit."""
        self.end(old)
        token, session = self.open(address=old.address, user_agent=old.user_agent)
        session.user, session.elevated = user, elevated
        session.next_path = old.next_path
        return token, session

    def end(self, session: WebSession | None) -> None:
        if session is not None:
            self._sessions.pop(session.key, None)

    def end_user(self, username: str) -> int:
        """End every session of ``username``; returns how many."""
        doomed = [s for s in self._sessions.values() if s.user is not None and s.user.username == username]
        for session in doomed:
            self.end(session)
        return len(doomed)

    def of_user(self, username: str) -> list[WebSession]:
        return [s for s in self._sessions.values() if s.user is not None and s.user.username == username]
