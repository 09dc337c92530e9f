"""What an admin changes about a person from the web pages beyond ``accounting.users``:
their name, e-mail and cost center, and exactly which groups they are in; and the groups
themselves. Every change is audited with the old and new values."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountingError, UnknownUser
from accounting.schema import groups, user_groups, users
from accounting.time import utcnow


@dataclass(frozen=True)
class GroupSummary:
    name: str
    description: str
    members: int


class UserProfiles:
    def __init__(self, database: Database):
        self.db = database

    @staticmethod
    def _row(conn, username: str):
        row = conn.execute(select(users.c.id, users.c.full_name, users.c.email, users.c.cost_center)
                           .where(users.c.username == username, users.c.deleted_at.is_(None))).first()
        if row is None:
            raise UnknownUser(username)
        return row

    def update(self, username: str, *, full_name: str, email: str, cost_center: str, actor: str) -> None:
        if email and "@" not in email:
            raise ValueError(f"invalid e-mail address {email!r}")
        values = {"full_name": full_name[:255], "email": email[:320], "cost_center": cost_center[:64]}
        with self.db.writer.begin() as conn:
            row = self._row(conn, username)
            old = {"full_name": row.full_name, "email": row.email, "cost_center": row.cost_center}
            if old == values:
                return
            conn.execute(update(users).where(users.c.id == row.id).values(**values))
            audit(conn, actor=actor, action="user.update", target=username, old=old, new=values)

    def set_groups(self, username: str, names, *, actor: str) -> None:
        """Make ``username`` a member of exactly ``names`` (groups are created as needed)."""
        wanted = sorted({name.strip() for name in names if name.strip()})
        with self.db.writer.begin() as conn:
            row = self._row(conn, username)
            current = sorted(conn.execute(select(groups.c.name).join(user_groups, user_groups.c.group_id == groups.c.id)
                                          .where(user_groups.c.user_id == row.id)).scalars())
            if current == wanted:
                return
            conn.execute(delete(user_groups).where(user_groups.c.user_id == row.id))
            for name in wanted:
                group_id = self._group_id(conn, name, create=True)
                conn.execute(insert(user_groups).values(user_id=row.id, group_id=group_id))
            audit(conn, actor=actor, action="user.groups", target=username, old=current, new=wanted)

    @staticmethod
    def _group_id(conn, name: str, *, create: bool = False) -> int:
        found = conn.execute(select(groups.c.id).where(groups.c.name == name)).scalar()
        if found is None:
            if not create:
                raise AccountingError(f"unknown group {name!r}")
            if not name or len(name) > 255:
                raise ValueError("a group name is 1 to 255 characters")
            found = conn.execute(insert(groups).values(name=name, description="", created_at=utcnow())
                                 ).inserted_primary_key[0]
        return found

    def add_group(self, name: str, *, description: str = "", actor: str) -> None:
        name = name.strip()
        with self.db.writer.begin() as conn:
            if conn.execute(select(groups.c.id).where(groups.c.name == name)).first():
                raise AccountingError(f"group {name!r} exists")
            self._group_id(conn, name, create=True)
            conn.execute(update(groups).where(groups.c.name == name).values(description=description[:255]))
            audit(conn, actor=actor, action="group.add", target=name, new={"description": description})
