"""Quotas: scheduled allowances credited to personal accounts, capped on accumulation.

A quota grants ``amount`` once per period (daily, weekly from Monday, monthly from the
1st, or every ``period_days`` days counted from 1970-01-01) to a user or to every
member of a group. With ``cap`` the grant only tops the balance up to the cap (unused
allowance accumulates no further). ``grant_due(now)`` is safe to run as often as one
likes, on any number of nodes: a (quota, account, period) is granted at most once — the
unique key of ``quota_grants`` guarantees it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountingError, UnknownUser
from accounting.ledger import post
from accounting.records import LedgerEntry
from accounting.schema import accounts, groups, quota_grants, quotas, user_groups, users
from accounting.time import utcnow

PERIODS = ("daily", "weekly", "monthly", "custom")


@dataclass
class Quota:
    id: int
    name: str
    user: str | None
    group: str | None
    period: str
    period_days: int | None
    amount: int
    cap: int | None
    enabled: bool


def period_start(period: str, now: datetime, tz: ZoneInfo, period_days: int | None = None) -> datetime:
    """The start (in UTC) of the period containing ``now``, in local time ``tz``."""
    local = now.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        start = midnight
    elif period == "weekly":
        start = midnight - timedelta(days=local.weekday())
    elif period == "monthly":
        start = midnight.replace(day=1)
    elif period == "custom":
        if not period_days or period_days < 1:
            raise ValueError("a custom period needs period_days >= 1")
        epoch = datetime(1970, 1, 1, tzinfo=tz)
        days = (midnight.replace(tzinfo=None) - epoch.replace(tzinfo=None)).days
        start = epoch + timedelta(days=days - days % period_days)
    else:
        raise ValueError(f"unknown period {period!r}")
    return start.astimezone(timezone.utc)


class QuotaStore:
    def __init__(self, database: Database, *, timezone_name: str = "UTC"):
        self.db = database
        self.tz = ZoneInfo(timezone_name)

    def add(self, name: str, *, amount: int, period: str, user: str | None = None, group: str | None = None,
            cap: int | None = None, period_days: int | None = None, actor: str = "admin") -> Quota:
        if (user is None) == (group is None):
            raise ValueError("a quota is for one user or one group")
        if period not in PERIODS:
            raise ValueError(f"period is one of {', '.join(PERIODS)}")
        if period == "custom" and not (period_days and period_days >= 1):
            raise ValueError("a custom period needs period_days >= 1")
        if not isinstance(amount, int) or amount <= 0:
            raise ValueError("a quota amount is a positive integer of minor units")
        with self.db.writer.begin() as conn:
            user_id = group_id = None
            if user is not None:
                user_id = conn.execute(select(users.c.id).where(users.c.username == user)).scalar()
                if user_id is None:
                    raise UnknownUser(user)
            else:
                group_id = conn.execute(select(groups.c.id).where(groups.c.name == group)).scalar()
                if group_id is None:
                    raise AccountingError(f"unknown group {group!r}")
            conn.execute(insert(quotas).values(name=name, user_id=user_id, group_id=group_id, period=period,
                                               period_days=period_days, amount=amount, cap=cap, enabled=True,
                                               created_at=utcnow()))
            audit(conn, actor=actor, action="quota.add", target=name,
                  new={"user": user, "group": group, "period": period, "amount": amount, "cap": cap})
        return next(q for q in self.list() if q.name == name)

    def remove(self, name: str, *, actor: str = "admin") -> None:
        """Stop granting ``name``; what it granted stays in the ledger."""
        with self.db.writer.begin() as conn:
            if conn.execute(delete(quotas).where(quotas.c.name == name)).rowcount != 1:
                raise AccountingError(f"no quota {name!r}")
            audit(conn, actor=actor, action="quota.remove", target=name)

    def list(self) -> list[Quota]:
        query = (select(quotas, users.c.username, groups.c.name.label("group_name"))
                 .outerjoin(users, users.c.id == quotas.c.user_id).outerjoin(groups, groups.c.id == quotas.c.group_id)
                 .order_by(quotas.c.name))
        with self.db.reader.connect() as conn:
            return [Quota(id=r.id, name=r.name, user=r.username, group=r.group_name, period=r.period,
                          period_days=r.period_days, amount=r.amount, cap=r.cap, enabled=r.enabled)
                    for r in conn.execute(query)]

    def _targets(self, conn, quota: Quota) -> list[int]:
        query = select(accounts.c.id).join(users, users.c.id == accounts.c.user_id)
        if quota.user is not None:
            query = query.where(users.c.username == quota.user)
        else:
            members = (select(user_groups.c.user_id).join(groups, groups.c.id == user_groups.c.group_id)
                       .where(groups.c.name == quota.group))
            query = query.where(users.c.id.in_(members))
        return list(conn.execute(query.where(users.c.enabled.is_(True))).scalars())

    def grant_due(self, now: datetime | None = None, *, actor: str = "quota") -> list[LedgerEntry]:
        """Credit every quota not yet granted for the current period."""
        now = now or utcnow()
        entries = []
        for quota in (q for q in self.list() if q.enabled):
            start = period_start(quota.period, now, self.tz, quota.period_days)
            with self.db.reader.connect() as conn:
                targets = self._targets(conn, quota)
                done = set(conn.execute(select(quota_grants.c.account_id).where(
                    quota_grants.c.quota_id == quota.id, quota_grants.c.period_start == start)).scalars())
            for account_id in (t for t in targets if t not in done):
                try:
                    with self.db.writer.begin() as conn:
                        balance = conn.execute(select(accounts.c.balance).where(accounts.c.id == account_id)).scalar()
                        amount = quota.amount if quota.cap is None else max(0, min(quota.amount, quota.cap - balance))
                        conn.execute(insert(quota_grants).values(quota_id=quota.id, account_id=account_id,
                                                                 period_start=start, amount=amount, granted_at=now))
                        if amount > 0:
                            entries.append(post(conn, account_id, "quota-grant", amount, actor=actor,
                                                reason=f"quota {quota.name} for {start.astimezone(self.tz):%Y-%m-%d}"))
                except IntegrityError:
                    continue  # another node granted it first
        return entries
