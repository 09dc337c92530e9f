"""All accounting components over one database, usable synchronously from any thread
(the CLI, the benchmarks, the spooler's committer); ``AccountingService`` wraps the same
object for the reactor."""
from __future__ import annotations

from contextlib import contextmanager

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from accounting.access_log import AccessLog
from accounting.accounts import AccountStore
from accounting.audit import AuditLog
from accounting.browse import Lists
from accounting.database import Database, migrate
from accounting.decisions import DecisionMaker
from accounting.devices import DeviceStore
from accounting.jobs import JobStore
from accounting.ledger import Ledger
from accounting.logins import LoginGuard
from accounting.notices import NoticeStore
from accounting.passwords import SecretHasher
from accounting.pricing import PriceStore
from accounting.periods import PeriodBook
from accounting.quotas import QuotaStore
from accounting.records import Decision, HeldJob, LedgerEntry, NewJob, User
from accounting.release import ReleaseDesk
from accounting.reports import Reports
from accounting.retention import DEFAULT_EXPIRE_MINUTES, DEFAULT_RETENTION_DAYS, Retention
from accounting.roles import RoleStore
from accounting.rules import RuleStore
from accounting.schedules import ScheduleBook
from accounting.second_factor import SecondFactors
from accounting.secrets import SecretStore
from accounting.time import zone
from accounting.user_profiles import UserProfiles
from accounting.users import UserStore


@dataclass
class AccountingSettings:
    timezone: str = "UTC"
    server_name: str | None = None
    #: Whom a job's stated name makes a user (source "auto"), ``[users] auto_create``:
    #: "always", "known-domains" (names ``user@domain`` of ``known_domains``) or "never"
    #: (the job of a name that is no user is refused); "create"/"deny" are the older words.
    unknown_users: str = "always"
    known_domains: tuple = ()
    new_account_restricted: bool = True
    new_account_balance: int = 0
    expire_minutes: int = DEFAULT_EXPIRE_MINUTES
    retention_days: int = DEFAULT_RETENTION_DAYS
    max_login_failures: int = 5
    device_max_login_failures: int = 20
    lockout_minutes: int = 5
    #: Fernet key file for secrets; kept outside the database. None: secrets unavailable.
    secrets_key_file: Path | None = None
    rule_cache_seconds: float = 10.0


def open_core(url: str, *, data_dir: Path | None = None, settings: AccountingSettings | None = None
              ) -> "AccountingCore":
    """Open (and migrate) the database at ``url`` for a command-line tool or a script.
    The secrets key defaults to ``<data_dir>/secrets.key`` — a file, never a row."""
    settings = settings or AccountingSettings()
    if settings.secrets_key_file is None and data_dir is not None:
        settings.secrets_key_file = Path(data_dir) / "secrets.key"
    database = Database(url)
    migrate(database.writer)
    return AccountingCore(database, settings)


class AccountingCore:
    def __init__(self, database: Database, settings: AccountingSettings | None = None, *,
                 hasher: SecretHasher | None = None):
        self.database = database
        self.settings = settings = settings or AccountingSettings()
        hasher = hasher or SecretHasher()
        self.jobs = JobStore(database)
        self.users = UserStore(database, hasher=hasher, new_account_restricted=settings.new_account_restricted,
                               new_account_balance=settings.new_account_balance)
        self.accounts = AccountStore(database, hasher=hasher)
        self.ledger = Ledger(database)
        self.prices = PriceStore(database)
        self.rules = RuleStore(database, ttl=settings.rule_cache_seconds)
        self.devices = DeviceStore(database)
        self.quotas = QuotaStore(database, timezone_name=settings.timezone)
        self.audit = AuditLog(database)
        self.decisions = DecisionMaker(database, users_store=self.users, prices=self.prices, rules=self.rules,
                                       timezone=settings.timezone, server_name=settings.server_name,
                                       unknown_users=settings.unknown_users, known_domains=settings.known_domains)
        self.jobs.pending_policy_records = self.decisions.pending
        self.release = ReleaseDesk(database, job_store=self.jobs, prices=self.prices, users_store=self.users,
                                   recheck=self.decisions.recheck)
        self.logins = LoginGuard(database, users_store=self.users, hasher=hasher,
                                 max_failures=settings.max_login_failures,
                                 device_max_failures=settings.device_max_login_failures,
                                 lockout=timedelta(minutes=settings.lockout_minutes))
        self.retention = Retention(database, job_store=self.jobs, expire_minutes=settings.expire_minutes,
                                   retention_days=settings.retention_days)
        tz = zone(settings.timezone)
        self.periods = PeriodBook(database, tz=tz)
        self.schedules = ScheduleBook(database)
        self.reports = Reports(database, tz=tz, printed_at=self.release.printed_at, prices=self.prices)
        self.notices = NoticeStore(database, expire_minutes=settings.expire_minutes)
        self._secrets: SecretStore | None = None
        # Issue 16, the web pages: roles, TOTP, the access log and keyset-paged lists.
        self.roles = RoleStore(database)
        self.second_factors = SecondFactors(database, lambda: self.secrets)
        self.access_log = AccessLog(database)
        self.lists = Lists(database)
        self.profiles = UserProfiles(database)
        #: ``accounting.directory.Directory`` once ``attach_directory`` was called.
        self.directory = None

    def attach_directory(self, settings, *, staging_dir: Path | None = None):
        """Sync users from the directory ``settings`` describe and, when ``settings.login``,
        check the passwords of users without a local one by an LDAP bind."""
        # Only with a directory: it loads ldap3, which is slow to import.
        from accounting.directory import Directory

        self.directory = Directory(self.database, settings, users_store=self.users, secret_store=self.secrets,
                                   staging_dir=staging_dir)
        self.logins.directory = self.directory if settings.login else None
        return self.directory

    @property
    def secrets(self) -> SecretStore | None:
        """The secret store; its key file is read (or created) on first use. None when
        no key file is configured."""
        if self._secrets is None and self.settings.secrets_key_file:
            self._secrets = SecretStore.with_key_file(self.database, self.settings.secrets_key_file)
        return self._secrets

    # The calls intake and release make, by name (each documented on its component).
    def decide(self, new_job: NewJob, *, at: datetime | None = None) -> Decision:
        return self.decisions.decide(new_job, at=at)

    @contextmanager
    def owners_read_once(self, new_jobs):
        """Within the block, ``decide`` calls in this thread for ``new_jobs`` (a group
        being committed) use their owners as read once for all of them on entry."""
        self.decisions.prefetch_owners(job.owner for job in new_jobs)
        try:
            yield
        finally:
            self.decisions.forget_owners()

    def start_release(self, job_id: int, device: str | None, actor: str, *, account: str | None = None) -> HeldJob:
        return self.release.start_release(job_id, device, actor, account=account)

    def charge_release(self, job_id: int, device: str | None, idempotency_key: str, actor: str) -> LedgerEntry:
        return self.release.charge_release(job_id, device, idempotency_key, actor)

    def mark_charge_pending(self, job_id: int, device: str | None, reason: str, *, actor: str) -> HeldJob:
        return self.release.mark_charge_pending(job_id, device, reason, actor=actor)

    def fail_release(self, job_id: int, reason: str, *, actor: str = "release") -> HeldJob:
        return self.release.fail_release(job_id, reason, actor=actor)

    def refund_shortfall(self, job_id: int, amount: int, *, actor: str, reason: str) -> LedgerEntry:
        return self.release.refund_shortfall(job_id, amount, actor=actor, reason=reason)

    def authenticate_card(self, card_number: str, *, device: str | None = None) -> User:
        return self.logins.authenticate_card(card_number, device=device)

    def authenticate_pin(self, username_or_id, pin: str, *, device: str | None = None) -> User:
        return self.logins.authenticate_pin(username_or_id, pin, device=device)

    def verify_password(self, username: str, password: str, *, device: str | None = None) -> User:
        return self.logins.verify_password(username, password, device=device)

    def expire_jobs(self, now: datetime | None = None) -> list[HeldJob]:
        return self.retention.expire_jobs(now)

    def purge_retention(self, now: datetime | None = None, *, days: int | None = None) -> dict:
        return self.retention.purge_retention(now, days=days)

    def test_rule(self, rule, *, since: datetime, until: datetime | None = None):
        """What ``rule`` would have done to past jobs (``accounting.decisions.RuleTrial``)."""
        return self.decisions.trial(rule, since=since, until=until)
