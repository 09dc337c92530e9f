"""What accounting knows about notices: who wants which (a user may turn any kind off),
where to send them, which have gone out already (a job about to expire, a balance that
fell below its threshold, a quota nearly used are told once per occasion), and the
queries that find those occasions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import UnknownAccount, UnknownUser
from accounting.fleet.health import ALERTING_HEALTH
from accounting.jobs import JobStore
from accounting.records import HeldJob
from accounting.schema import (
    accounts, jobs, notice_preferences, notices_sent, queues, quota_grants, users,
)
from accounting.time import aware, utcnow

NOTICES = ("job_held", "job_refused", "job_changed", "job_expiring", "job_expired", "balance_low",
           "quota_nearly_used", "release_failed", "printer_alert", "scheduled_report", "rule")


@dataclass
class Recipient:
    username: str
    full_name: str
    email: str


@dataclass
class LowBalance:
    account_id: int
    account: str
    username: str
    balance: int
    threshold: int


@dataclass
class QuotaUse:
    account_id: int
    username: str
    granted: int
    balance: int
    grant_id: int


class NoticeStore:
    def __init__(self, database: Database, *, expire_minutes: int = 240):
        self.db = database
        self.expire_minutes = expire_minutes

    # -- preferences --------------------------------------------------------------------
    def set_preference(self, username: str, notice: str, enabled: bool, *, actor: str = "admin") -> None:
        if notice not in NOTICES:
            raise ValueError(f"unknown notice {notice!r} (one of {', '.join(NOTICES)})")
        with self.db.writer.begin() as conn:
            user_id = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
            if user_id is None:
                raise UnknownUser(username)
            changed = conn.execute(update(notice_preferences).where(
                notice_preferences.c.user_id == user_id, notice_preferences.c.notice == notice).values(
                enabled=enabled)).rowcount
            if not changed:
                conn.execute(insert(notice_preferences).values(user_id=user_id, notice=notice, enabled=enabled))
            audit(conn, actor=actor, action="notice.preference", target=username, new={notice: enabled})

    def preferences(self, username: str) -> dict[str, bool]:
        with self.db.reader.connect() as conn:
            user_id = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
            if user_id is None:
                raise UnknownUser(username)
            return dict(conn.execute(select(notice_preferences.c.notice, notice_preferences.c.enabled)
                                     .where(notice_preferences.c.user_id == user_id)).all())

    def recipient(self, username: str, notice: str, *, default: bool = True) -> Recipient | None:
        """Where ``notice`` goes for ``username``: None when the user is unknown, has no
        email address, or turned this notice off (``default`` when they never said)."""
        with self.db.reader.connect() as conn:
            row = conn.execute(select(users.c.id, users.c.username, users.c.full_name, users.c.email)
                               .where(users.c.username == username)).first()
            if row is None or not row.email:
                return None
            choice = conn.execute(select(notice_preferences.c.enabled).where(
                notice_preferences.c.user_id == row.id, notice_preferences.c.notice == notice)).scalar()
        if not (default if choice is None else choice):
            return None
        return Recipient(row.username, row.full_name, row.email)

    # -- once per occasion ---------------------------------------------------------------
    def first_time(self, notice: str, subject: str, *, now: datetime | None = None) -> bool:
        """True the first time (``notice``, ``subject``) is asked about; False after."""
        try:
            with self.db.writer.begin() as conn:
                conn.execute(insert(notices_sent).values(notice=notice, subject=subject[:128], sent_at=now or utcnow()))
            return True
        except IntegrityError:
            return False

    def forget(self, notice: str, subject: str) -> None:
        with self.db.writer.begin() as conn:
            conn.execute(delete(notices_sent).where(notices_sent.c.notice == notice, notices_sent.c.subject == subject))

    # -- occasions ----------------------------------------------------------------------
    def jobs_expiring(self, within_minutes: int, now: datetime | None = None) -> list[tuple[HeldJob, datetime]]:
        """Held jobs that expire within ``within_minutes`` and whose owner was not yet
        warned (each is warned once), with when they expire."""
        now = now or utcnow()
        with self.db.reader.connect() as conn:
            lifetimes = dict(conn.execute(select(queues.c.id, queues.c.expire_minutes)).all())
            rows = conn.execute(select(jobs.c.id, jobs.c.queue_id, jobs.c.received_at).where(
                jobs.c.state == "held")).all()
        due = []
        for job_id, queue_id, received_at in rows:
            expires = aware(received_at) + timedelta(minutes=lifetimes.get(queue_id) or self.expire_minutes)
            if now < expires <= now + timedelta(minutes=within_minutes):
                due.append((job_id, expires))
        store = JobStore(self.db)
        return [(store.get_job(job_id), expires) for job_id, expires in due if self.first_time("job_expiring",
                                                                                               f"job:{job_id}")]

    def set_low_balance_threshold(self, account: str, threshold: int | None, *, actor: str = "admin") -> None:
        with self.db.writer.begin() as conn:
            changed = conn.execute(update(accounts).where(accounts.c.name == account).values(
                low_balance_threshold=threshold)).rowcount
            if not changed:
                raise UnknownAccount(account)
            audit(conn, actor=actor, action="account.low-balance-threshold", target=account, new=threshold)

    def low_balance(self, account_id: int, default_threshold: int) -> LowBalance | None:
        """The personal account ``account_id`` if what its owner can spend (the balance
        less what releases have reserved) is below its threshold and they were not yet
        told since it last was above it; re-arms once it is above again."""
        with self.db.reader.connect() as conn:
            row = conn.execute(select(accounts.c.id, accounts.c.name,
                                      (accounts.c.balance - accounts.c.reserved).label("balance"),
                                      accounts.c.low_balance_threshold, users.c.username)
                               .join(users, users.c.id == accounts.c.user_id).where(accounts.c.id == account_id)).first()
        if row is None:
            return None
        threshold = default_threshold if row.low_balance_threshold is None else row.low_balance_threshold
        subject = f"account:{row.id}"
        if row.balance >= threshold:
            self.forget("balance_low", subject)
            return None
        if not self.first_time("balance_low", subject):
            return None
        return LowBalance(row.id, row.name, row.username, row.balance, threshold)

    def quota_nearly_used(self, account_id: int, percent: int) -> QuotaUse | None:
        """The latest quota grant of ``account_id`` when at most ``percent`` % of it is
        left to spend (balance less reservations; told once per grant)."""
        with self.db.reader.connect() as conn:
            grant = conn.execute(select(quota_grants.c.id, quota_grants.c.amount).where(
                quota_grants.c.account_id == account_id, quota_grants.c.amount > 0)
                .order_by(quota_grants.c.granted_at.desc()).limit(1)).first()
            row = conn.execute(select((accounts.c.balance - accounts.c.reserved).label("balance"), users.c.username).join(
                users, users.c.id == accounts.c.user_id).where(accounts.c.id == account_id)).first()
        if grant is None or row is None or row.balance * 100 > grant.amount * percent:
            return None
        if not self.first_time("quota_nearly_used", f"account:{account_id}:grant:{grant.id}"):
            return None
        return QuotaUse(account_id, row.username, grant.amount, row.balance, grant.id)

    def printer_alert_due(self, fleet_id: int, health: str) -> bool:
        """Whether the admins are to be told that the fleet's printer ``fleet_id`` is now
        ``health`` (asked when its health changed): once per change into error or
        warning, not again while it stays there; being found "ok" re-arms it. Neither
        "unreachable" nor "unknown" changes anything: a printer that stops answering SNMP
        for a while and comes back still jammed is no news."""
        if health != "ok" and health not in ALERTING_HEALTH:
            return False
        others = [f"fleet:{fleet_id}:{h}" for h in ALERTING_HEALTH if h != health]
        with self.db.writer.begin() as conn:
            conn.execute(delete(notices_sent).where(notices_sent.c.notice == "printer_alert",
                                                    notices_sent.c.subject.in_(others)))
        return health != "ok" and self.first_time("printer_alert", f"fleet:{fleet_id}:{health}")

    def count_sent(self, notice: str) -> int:
        with self.db.reader.connect() as conn:
            return conn.execute(select(func.count()).select_from(notices_sent)
                                .where(notices_sent.c.notice == notice)).scalar()
