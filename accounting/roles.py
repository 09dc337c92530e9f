"""Roles: what a person may do beyond printing. Everyone with an account is a user (their
own jobs, history, money, cards and PIN); ``admin`` and ``finance`` are granted with
``printgate users grant USER admin|finance`` and shown in the admin pages. Granting and
revoking are audited."""
from __future__ import annotations

from sqlalchemy import delete, insert, select

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountingError, UnknownUser
from accounting.schema import ROLES, user_roles, users
from accounting.time import utcnow


class UnknownRole(AccountingError, ValueError):
    def __init__(self, role):
        super().__init__(f"unknown role {role!r} (one of {', '.join(ROLES)})")
        self.role = role


class RoleStore:
    def __init__(self, database: Database):
        self.db = database

    @staticmethod
    def _user_id(conn, username: str) -> int:
        user_id = conn.execute(select(users.c.id).where(users.c.username == username,
                                                        users.c.deleted_at.is_(None))).scalar()
        if user_id is None:
            raise UnknownUser(username)
        return user_id

    def grant(self, username: str, role: str, *, actor: str = "admin") -> bool:
        """Give ``username`` the role; False when they had it already."""
        if role not in ROLES:
            raise UnknownRole(role)
        with self.db.writer.begin() as conn:
            user_id = self._user_id(conn, username)
            if conn.execute(select(user_roles.c.role).where(user_roles.c.user_id == user_id,
                                                           user_roles.c.role == role)).first():
                return False
            conn.execute(insert(user_roles).values(user_id=user_id, role=role, granted_at=utcnow(),
                                                   granted_by=actor[:255]))
            audit(conn, actor=actor, action="role.grant", target=username, new=role)
        return True

    def revoke(self, username: str, role: str, *, actor: str = "admin") -> bool:
        """Take the role away; False when they did not have it."""
        if role not in ROLES:
            raise UnknownRole(role)
        with self.db.writer.begin() as conn:
            user_id = self._user_id(conn, username)
            removed = conn.execute(delete(user_roles).where(user_roles.c.user_id == user_id,
                                                            user_roles.c.role == role)).rowcount
            if removed:
                audit(conn, actor=actor, action="role.revoke", target=username, old=role)
        return bool(removed)

    def roles_of(self, username: str) -> frozenset[str]:
        with self.db.reader.connect() as conn:
            return frozenset(conn.execute(
                select(user_roles.c.role).join(users, users.c.id == user_roles.c.user_id)
                .where(users.c.username == username, users.c.deleted_at.is_(None), users.c.enabled.is_(True))
            ).scalars())

    def holders(self) -> dict[str, list[str]]:
        """username -> roles, for everyone who has one."""
        found: dict[str, list[str]] = {}
        with self.db.reader.connect() as conn:
            for username, role in conn.execute(select(users.c.username, user_roles.c.role)
                                               .join(users, users.c.id == user_roles.c.user_id)
                                               .order_by(users.c.username, user_roles.c.role)):
                found.setdefault(username, []).append(role)
        return found
