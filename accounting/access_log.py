"""The access log: every web login, logout, failed login and use of a privilege, with
the address and browser it came from (what MPS Monitor calls "access logs"). Admins read
it in the web pages; ``accounting.retention`` purges it with the rest of the history."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert

from accounting.database import Database
from accounting.schema import access_log
from accounting.time import utcnow

EVENTS = ("login", "logout", "login-failed", "second-factor", "second-factor-failed", "privilege", "session-ended")


@dataclass(frozen=True)
class AccessEvent:
    id: int
    at: datetime
    username: str
    event: str
    address: str
    user_agent: str
    detail: str


class AccessLog:
    def __init__(self, database: Database):
        self.db = database

    def record(self, username: str, event: str, *, address: str = "", user_agent: str = "", detail: str = "",
               at: datetime | None = None) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown access event {event!r}")
        with self.db.writer.begin() as conn:
            conn.execute(insert(access_log).values(
                at=at or utcnow(), username=(username or "(unknown)")[:255], event=event, address=address[:64],
                user_agent=user_agent[:255], detail=detail[:255]))
