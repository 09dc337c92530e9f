"""When something a notice is about happens in the running gateway, which notices follow.

Receiving a job (``gateway.receive_job``: ``ReceptionNotices``), releasing one
(``gateway.release_job``: ``ReleaseObserver``) and the process's housekeeping (jobs
about to expire) call these as jobs are recorded, refused, about to expire, released or not:
a job held (a receipt, when on), changed or refused by a rule, about to expire, a release
that failed, a balance that fell below its threshold, a quota nearly used. Everything
runs after the event's own work is done and never fails it.
"""
from __future__ import annotations

from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

log = Logger()


class NoticeTriggers:
    def __init__(self, reactor, accounting, notices, config, *, threadpool=None):
        self.reactor = reactor
        self.accounting = accounting
        self.notices = notices
        self.config = config
        self.threadpool = threadpool if threadpool is not None else reactor.getThreadPool()

    def _thread(self, function, *args):
        return deferToThreadPool(self.reactor, self.threadpool, function, *args)

    # -- gateway.receive_job.ReceptionNotices ---------------------------------------------
    def jobs_recorded(self, jobs) -> None:
        receipts = self.notices.enabled("job_held")
        for job in jobs:
            if job.decision_changes:
                self.notices.job_changed(job)
            if receipts:
                self.notices.job_held(job)

    def job_refused(self, new_job, decision) -> None:
        """Called in the committing thread when a rule refuses a job at intake."""
        if self.notices.enabled("job_refused"):
            self.reactor.callFromThread(self.notices.job_refused, new_job, decision)

    @inlineCallbacks
    def check_expiring(self):
        if not self.notices.enabled("job_expiring"):
            return 0
        try:
            expiring = yield self._thread(self.accounting.core.notices.jobs_expiring, self.config.expiring_minutes)
        except Exception:  # noqa: BLE001 - expiry itself goes on
            log.failure("looking for jobs about to expire failed")
            return 0
        for job, expires in expiring:
            self.notices.job_expiring(job, expires)
        return len(expiring)

    # -- gateway.release_job.ReleaseObserver ---------------------------------------------
    def release_failed(self, job, device: str, reason: str) -> None:
        self.notices.release_failed(job, device, reason)

    @inlineCallbacks
    def printed(self, job):
        """After a job printed (charged, or its charge pending with the amount still
        reserved): tell the owner when what they can spend fell below its threshold or
        their quota is nearly used."""
        store = self.accounting.core.notices
        if job.account_id is None:
            return
        try:
            if self.notices.enabled("balance_low"):
                low = yield self._thread(store.low_balance, job.account_id, self.config.low_balance_threshold)
                if low is not None:
                    self.notices.balance_low(low)
            if self.notices.enabled("quota_nearly_used"):
                quota = yield self._thread(store.quota_nearly_used, job.account_id,
                                           self.config.quota_warning_percent)
                if quota is not None:
                    self.notices.quota_nearly_used(quota)
        except Exception:  # noqa: BLE001
            log.failure("checking balance notices after charging job {job_id} failed", job_id=job.id)
