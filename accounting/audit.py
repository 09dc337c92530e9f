"""The audit log: every admin change, release, rule decision and login.

``audit(conn, ...)`` writes inside the caller's transaction, so an audited change and
its audit row commit (or vanish) together.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert, select

from accounting.database import Database
from accounting.lean_sql import insert_rows
from accounting.records import AuditEntry
from accounting.schema import audit_log
from accounting.time import aware, utcnow


def _text(value):
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def audit(conn, *, actor: str, action: str, target: str = "", old=None, new=None, source: str = "",
          at: datetime | None = None) -> None:
    conn.execute(insert(audit_log).values(
        at=at or utcnow(), actor=actor[:255], source=source[:255], action=action[:64], target=str(target)[:255],
        old_value=_text(old), new_value=_text(new),
    ))


def audit_many(conn, entries: list[dict], *, at: datetime | None = None) -> None:
    """Several audit rows (each a dict of ``audit``'s keyword arguments) in one statement."""
    if not entries:
        return
    at = at or utcnow()
    insert_rows(conn, audit_log, [
        {"at": e.get("at") or at, "actor": e["actor"][:255], "source": e.get("source", "")[:255],
         "action": e["action"][:64], "target": str(e.get("target", ""))[:255], "old_value": _text(e.get("old")),
         "new_value": _text(e.get("new"))} for e in entries])


class AuditLog:
    def __init__(self, database: Database):
        self.db = database

    def entries(self, *, since: datetime | None = None, action: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        with self.db.reader.connect() as conn:
            return [AuditEntry(id=r.id, at=aware(r.at), actor=r.actor, source=r.source, action=r.action,
                               target=r.target, old_value=r.old_value, new_value=r.new_value)
                    for r in conn.execute(query)]
