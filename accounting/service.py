"""The accounting service API that the application layer's use cases call.

Every method returns a Deferred and runs its database work in a thread pool, so the
reactor never waits on a query; results are plain dataclasses. Code already running off
the reactor thread (the spooler's group committer) may use the synchronous components
(``service.jobs``, ``service.core``) directly.

Intake: ``decide(new_job) -> Decision`` before the job is acknowledged; put the decision
on ``new_job.decision`` so ``record_jobs`` stores it with the job. Release:
``start_release`` → (device accepts) ``charge_release`` or (it does not) ``fail_release``.
"""
from __future__ import annotations

from twisted.internet.threads import deferToThreadPool

from accounting.core import AccountingCore, AccountingSettings
from accounting.database import Database, migrate


class AccountingService:
    def __init__(self, database: Database, *, reactor, threadpool, settings: AccountingSettings | None = None,
                 core: AccountingCore | None = None):
        self.database = database
        self.core = core or AccountingCore(database, settings)
        self.jobs = self.core.jobs
        self._reactor = reactor
        self._pool = threadpool

    @classmethod
    def open(cls, url: str, *, reactor, threadpool, queues=(), settings: AccountingSettings | None = None
             ) -> "AccountingService":
        """Open the database, migrate it to the newest schema, and create ``queues``."""
        database = Database(url)
        migrate(database.writer)
        service = cls(database, reactor=reactor, threadpool=threadpool, settings=settings)
        service.jobs.ensure_queues(queues)
        return service

    def _run(self, function, *args, **kwargs):
        return deferToThreadPool(self._reactor, self._pool, function, *args, **kwargs)

    # -- jobs -------------------------------------------------------------------------------
    def get_job(self, job_id):
        return self._run(self.jobs.get_job, job_id)

    def list_jobs(self, queue=None, owner=None, states=("held",), limit=None, owners=None, newest_first=False):
        return self._run(self.jobs.list_jobs, queue=queue, owner=owner, owners=owners, states=states,
                         limit=limit, newest_first=newest_first)

    def count_jobs(self, queue=None, states=("held",)):
        return self._run(self.jobs.count_jobs, queue=queue, states=states)

    def change_job_state(self, job_id, state, *, actor, reason="", expect=None):
        return self._run(self.jobs.change_state, job_id, state, actor=actor, reason=reason, expect=expect)

    def record_jobs(self, new_jobs):
        return self._run(self.jobs.record_jobs, new_jobs)

    # -- intake -----------------------------------------------------------------------------
    def decide(self, new_job, *, at=None):
        """Deferred[Decision]: rules, price estimate and balance check for ``new_job``."""
        return self._run(self.core.decide, new_job, at=at)

    # -- release ----------------------------------------------------------------------------
    def start_release(self, job_id, device, actor, *, account=None):
        """Deferred[HeldJob] (now releasing; price reserved). Errback InsufficientFunds."""
        return self._run(self.core.start_release, job_id, device, actor, account=account)

    def charge_release(self, job_id, device, idempotency_key, actor):
        """Deferred[LedgerEntry]: charge once, after the device accepted the job."""
        return self._run(self.core.charge_release, job_id, device, idempotency_key, actor)

    def mark_charge_pending(self, job_id, device, reason, *, actor):
        """Deferred[HeldJob] now charge_pending: printed, reservation kept, charge to follow."""
        return self._run(self.core.mark_charge_pending, job_id, device, reason, actor=actor)

    def quote(self, job, device):
        """Deferred[DeviceQuote]: ``job`` (a HeldJob) priced at ``device`` (a Device or None)."""
        return self._run(self.core.release.quote, job, device)

    def get_device(self, name):
        """Deferred[Device]; errback UnknownDevice."""
        return self._run(self.core.devices.get, name)

    def fail_release(self, job_id, reason, *, actor="release"):
        """Deferred[HeldJob] back on hold; reservation dropped, nothing charged."""
        return self._run(self.core.fail_release, job_id, reason, actor=actor)

    def refund_shortfall(self, job_id, amount, *, actor, reason):
        return self._run(self.core.refund_shortfall, job_id, amount, actor=actor, reason=reason)

    # -- logins -----------------------------------------------------------------------------
    def authenticate_card(self, card_number, *, device=None):
        """Deferred[User]; errback LoginFailed or LoginLocked."""
        return self._run(self.core.authenticate_card, card_number, device=device)

    def authenticate_pin(self, username_or_id, pin, *, device=None):
        return self._run(self.core.authenticate_pin, username_or_id, pin, device=device)

    def verify_password(self, username, password, *, device=None):
        return self._run(self.core.verify_password, username, password, device=device)

    # -- accounts ---------------------------------------------------------------------------
    def get_user(self, username_or_id):
        return self._run(self.core.users.get_user, username_or_id)

    def chargeable_accounts(self, username):
        return self._run(self.core.accounts.chargeable, username)

    def ledger_entries(self, account, limit=None):
        return self._run(self.core.ledger.entries, account, limit=limit)

    # -- time -------------------------------------------------------------------------------
    def expire_jobs(self, now=None):
        """Deferred[list[HeldJob]] just expired: the caller deletes their spool files."""
        return self._run(self.core.expire_jobs, now)

    def purge_retention(self, now=None, *, days=None):
        return self._run(self.core.purge_retention, now, days=days)

    def grant_quotas(self, now=None):
        return self._run(self.core.quotas.grant_due, now)

    def close(self) -> None:
        try:
            self.core.decisions.flush()
        finally:
            self.database.dispose()
