"""Short-lived panel sessions, bound to the device they were opened at.

A session starts anonymous (it carries the login form's CSRF token, the PIN digits typed
so far, and a card waiting to be linked) and gets a fresh token when the user logs in.
It ends after ``idle_timeout`` seconds without a request, after ``max_age`` in any case,
at logout, or when presented by another device. In-memory and bounded: the oldest
sessions are dropped first when ``capacity`` is reached.
"""
from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from release_api.errors import CsrfRejected, PanelSessionExpired
from release_api.services import PanelUser


@dataclass
class PanelSession:
    token: str
    device_id: str
    csrf: str
    created: float
    last_seen: float
    user: PanelUser | None = None
    pin_digits: str = ""
    #: The user number typed on the PIN pad before its OK; ``None`` while it is being typed.
    pin_user_number: str | None = None
    pending_card: str | None = None
    last_result: object = None

    def check_csrf(self, submitted: str | None) -> None:
        if not submitted or not hmac.compare_digest(submitted.encode(), self.csrf.encode()):
            raise CsrfRejected("the form's token does not match this session")


class PanelSessions:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, idle_timeout: float = 60.0,
                 max_age: float = 600.0, capacity: int = 10_000):
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self.capacity = capacity
        self._sessions: OrderedDict[str, PanelSession] = OrderedDict()

    def __len__(self):
        return len(self._sessions)

    def open(self, device_id: str, user: PanelUser | None = None) -> PanelSession:
        now = self.clock()
        session = PanelSession(token=secrets.token_urlsafe(32), device_id=device_id, csrf=secrets.token_urlsafe(24),
                               created=now, last_seen=now, user=user)
        self._sessions[session.token] = session
        while len(self._sessions) > self.capacity:
            self._sessions.popitem(last=False)
        return session

    def find(self, token: str | None, device_id: str) -> PanelSession:
        """The live session for ``token`` at ``device_id``; touching it keeps it alive."""
        session = self._sessions.get(token or "")
        if session is None:
            raise PanelSessionExpired("no panel session")
        now = self.clock()
        if session.device_id != device_id:
            raise PanelSessionExpired("the session belongs to another device")
        if now - session.last_seen > self.idle_timeout or now - session.created > self.max_age:
            self.end(session.token)
            raise PanelSessionExpired("the panel session expired")
        session.last_seen = now
        self._sessions.move_to_end(session.token)
        return session

    def log_in(self, old: PanelSession, user: PanelUser) -> PanelSession:
        """Rotate: the anonymous session ends, a new one with a new token and CSRF starts."""
        self.end(old.token)
        return self.open(old.device_id, user)

    def end(self, token: str | None) -> None:
        self._sessions.pop(token or "", None)
