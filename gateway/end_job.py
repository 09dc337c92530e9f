"""Use case: end a job. Its state changes in accounting, then its spool bytes go.

Every path that ends a job goes through here — LPD remove, IPP Cancel-Job and
Cancel-My-Jobs, the panel's delete, ``printgate jobs delete``, expiry, and a release once
the printer took the job — so a job never ends with its confidential bytes left behind.
A small job's bytes are a database row that accounting deletes in the same transaction
as the state change; a large job's are a spool file, removed right after it.
"""
from __future__ import annotations

from twisted.logger import Logger

from printgate_errors import PrintgateError

log = Logger()

#: States a held job can be ended in (``released`` is reached by the release use case).
ENDING_STATES = ("canceled", "deleted", "expired")


class NotAnEndingState(PrintgateError):
    def __init__(self, state: str):
        super().__init__(f"{state!r} does not end a job")
        self.state = state


class JobEnding:
    """Ends jobs through ``accounting`` (an ``AccountingService``: Deferreds) and removes
    their bytes from ``spool`` (a ``SpoolStore``)."""

    def __init__(self, accounting, spool):
        self.accounting = accounting
        self.spool = spool

    def end(self, job_id: int, state: str, *, actor: str, reason: str = ""):
        """Deferred firing with the ended ``HeldJob`` once its state changed and its bytes
        are gone; fails with accounting's error when the job may not end (not held)."""
        if state not in ENDING_STATES:
            raise NotAnEndingState(state)
        changed = self.accounting.change_job_state(job_id, state, actor=actor, reason=reason, expect=("held",))
        return changed.addCallback(self.forget_bytes, actor=actor, reason=reason)

    def forget_bytes(self, job, *, actor: str = "", reason: str = ""):
        """The job has ended in accounting: remove its spool file (a small job's bytes
        went with the state change). Returns the job."""
        if job.spool_name:
            self.spool.remove(job.spool_name)
        log.info("job {job_id} of {owner} {state} by {actor}: {reason}", job_id=job.id, owner=job.owner,
                 state=job.state, actor=actor or "gateway", reason=reason or job.state_reason)
        return job

    def expire_due(self):
        """Deferred[list[HeldJob]]: expire every held job past its queue's lifetime and
        remove their bytes."""
        def expired(jobs):
            for job in jobs:
                self.forget_bytes(job, actor="expiry")
            return jobs
        return self.accounting.expire_jobs().addCallback(expired)


def end_job_now(job_store, spool, job_id: int, state: str, *, actor: str, reason: str = ""):
    """The same use case, synchronously, for the CLI (which runs no reactor)."""
    if state not in ENDING_STATES:
        raise NotAnEndingState(state)
    job = job_store.change_state(job_id, state, actor=actor, reason=reason, expect=("held",))
    if job.spool_name:
        spool.remove(job.spool_name)
    return job
