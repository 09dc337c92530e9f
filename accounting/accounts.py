"""Accounts: each user's personal account and shared accounts (cost centers, client
billing codes) with optional PIN and sub-accounts, which named users or groups may charge.
Balances change only through ``accounting.ledger``."""
from __future__ import annotations

from sqlalchemy import delete, insert, or_, select, update

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountNotAllowed, UnknownAccount, UnknownUser
from accounting.passwords import SecretHasher
from accounting.records import Account
from accounting.schema import account_members, accounts, groups, user_groups, users
from accounting.time import utcnow


def _account(row) -> Account:
    return Account(id=row.id, name=row.name, kind=row.kind, user_id=row.user_id, parent_id=row.parent_id,
                   balance=row.balance, reserved=row.reserved, overdraft_limit=row.overdraft_limit,
                   restricted=row.restricted, enabled=row.enabled)


class AccountStore:
    def __init__(self, database: Database, *, hasher: SecretHasher | None = None):
        self.db = database
        self.hasher = hasher or SecretHasher()

    def create_shared(self, name: str, *, parent: str | None = None, restricted: bool = False,
                      overdraft_limit: int = 0, pin: str | None = None, cost_center: str = "",
                      actor: str = "admin") -> Account:
        """``cost_center``: where chargeback reports put this account's charges (empty:
        the account's own name)."""
        with self.db.writer.begin() as conn:
            parent_id = self._id(conn, parent) if parent else None
            conn.execute(insert(accounts).values(
                name=name, kind="shared", parent_id=parent_id, pin_hash=self.hasher.hash(pin) if pin else None,
                balance=0, reserved=0, overdraft_limit=overdraft_limit, restricted=restricted, enabled=True,
                created_at=utcnow(), cost_center=cost_center,
            ))
            audit(conn, actor=actor, action="account.create", target=name,
                  new={"parent": parent, "restricted": restricted, "overdraft_limit": overdraft_limit,
                       "cost_center": cost_center})
        return self.get(name)

    def _id(self, conn, account) -> int:
        column = accounts.c.id if isinstance(account, int) else accounts.c.name
        found = conn.execute(select(accounts.c.id).where(column == account)).scalar()
        if found is None:
            raise UnknownAccount(account)
        return found

    def get(self, account) -> Account:
        with self.db.reader.connect() as conn:
            column = accounts.c.id if isinstance(account, int) else accounts.c.name
            row = conn.execute(select(accounts).where(column == account)).first()
        if row is None:
            raise UnknownAccount(account)
        return _account(row)

    def personal(self, username: str) -> Account:
        with self.db.reader.connect() as conn:
            row = conn.execute(select(accounts).join(users, users.c.id == accounts.c.user_id)
                               .where(users.c.username == username)).first()
        if row is None:
            raise UnknownUser(username)
        return _account(row)

    def list(self, *, kind: str | None = None) -> list[Account]:
        query = select(accounts).order_by(accounts.c.name)
        if kind:
            query = query.where(accounts.c.kind == kind)
        with self.db.reader.connect() as conn:
            return [_account(row) for row in conn.execute(query)]

    def configure(self, account, *, restricted: bool | None = None, overdraft_limit: int | None = None,
                  enabled: bool | None = None, actor: str = "admin") -> Account:
        changes = {k: v for k, v in dict(restricted=restricted, overdraft_limit=overdraft_limit,
                                          enabled=enabled).items() if v is not None}
        with self.db.writer.begin() as conn:
            account_id = self._id(conn, account)
            old = conn.execute(select(*[accounts.c[k] for k in changes]).where(accounts.c.id == account_id)).first()
            conn.execute(update(accounts).where(accounts.c.id == account_id).values(**changes))
            audit(conn, actor=actor, action="account.configure", target=str(account),
                  old=dict(zip(changes, old)) if old else None, new=changes)
        return self.get(account)

    def allow(self, account, *, user: str | None = None, group: str | None = None, actor: str = "admin") -> None:
        """Let ``user`` (or every member of ``group``) charge the shared ``account``."""
        with self.db.writer.begin() as conn:
            account_id = self._id(conn, account)
            user_id = group_id = None
            if user is not None:
                user_id = conn.execute(select(users.c.id).where(users.c.username == user)).scalar()
                if user_id is None:
                    raise UnknownUser(user)
            if group is not None:
                group_id = conn.execute(select(groups.c.id).where(groups.c.name == group)).scalar()
                if group_id is None:
                    group_id = conn.execute(insert(groups).values(name=group, description="", created_at=utcnow())
                                            ).inserted_primary_key[0]
            conn.execute(insert(account_members).values(account_id=account_id, user_id=user_id, group_id=group_id))
            audit(conn, actor=actor, action="account.allow", target=str(account), new={"user": user, "group": group})

    def disallow(self, account, *, user: str | None = None, group: str | None = None, actor: str = "admin") -> None:
        """Undo ``allow``: ``user`` (or ``group``) may no longer charge the shared account."""
        if (user is None) == (group is None):
            raise ValueError("name one user or one group")
        with self.db.writer.begin() as conn:
            account_id = self._id(conn, account)
            if user is not None:
                who = account_members.c.user_id.in_(select(users.c.id).where(users.c.username == user))
            else:
                who = account_members.c.group_id.in_(select(groups.c.id).where(groups.c.name == group))
            removed = conn.execute(delete(account_members).where(account_members.c.account_id == account_id, who))
            if not removed.rowcount:
                raise ValueError(f"{'user ' + user if user else 'group ' + group} may not charge {account} anyway")
            audit(conn, actor=actor, action="account.disallow", target=str(account),
                  old={"user": user, "group": group})

    def chargeable(self, username: str) -> list[Account]:
        """The accounts ``username`` may charge: the personal one first, then shared ones."""
        with self.db.reader.connect() as conn:
            user_id = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
            if user_id is None:
                raise UnknownUser(username)
            group_ids = select(user_groups.c.group_id).where(user_groups.c.user_id == user_id)
            shared = select(account_members.c.account_id).where(or_(
                account_members.c.user_id == user_id, account_members.c.group_id.in_(group_ids)))
            rows = conn.execute(select(accounts).where(
                accounts.c.enabled.is_(True), or_(accounts.c.user_id == user_id, accounts.c.id.in_(shared))
            ).order_by(accounts.c.kind, accounts.c.name)).all()
        return [_account(row) for row in rows]

    def shared_choices(self, username: str) -> list[tuple[Account, bool]]:
        """The shared accounts ``username`` may charge, each with whether it asks for a
        PIN (what a panel offers when a rule requires a shared account)."""
        shared = [account for account in self.chargeable(username) if account.kind == "shared"]
        if not shared:
            return []
        with self.db.reader.connect() as conn:
            with_pin = set(conn.execute(select(accounts.c.id).where(
                accounts.c.id.in_([a.id for a in shared]), accounts.c.pin_hash.is_not(None))).scalars())
        return [(account, account.id in with_pin) for account in shared]

    def check_chargeable(self, username: str, account, pin: str | None = None) -> Account:
        """The account if ``username`` may charge it (and ``pin`` matches a PIN-protected
        shared account); AccountNotAllowed otherwise."""
        target = self.get(account)
        if not any(a.id == target.id for a in self.chargeable(username)):
            raise AccountNotAllowed(account, username)
        with self.db.reader.connect() as conn:
            pin_hash = conn.execute(select(accounts.c.pin_hash).where(accounts.c.id == target.id)).scalar()
        if pin_hash is not None and not self.hasher.verify(pin_hash, pin or ""):
            raise AccountNotAllowed(account, username)
        return target
