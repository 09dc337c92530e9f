"""Ending a job: its state changes through accounting, then its spool file goes.

Used by every path that ends a held job (LPD remove, IPP cancel, the CLI, expiry), so a
job never ends with its confidential bytes left on disk.
"""
from __future__ import annotations

from twisted.logger import Logger

log = Logger()

ENDING_STATES = ("canceled", "deleted", "expired")


def end_job(accounting, spool, job_id: int, state: str, *, actor: str, reason: str = ""):
    """Deferred firing with the updated ``HeldJob`` once the state changed and the
    spool file is gone. Fails with the accounting error if the change is not allowed."""
    if state not in ENDING_STATES:
        raise ValueError(f"{state!r} does not end a job")
    deferred = accounting.change_job_state(job_id, state, actor=actor, reason=reason)

    def remove_file(job):
        if job.spool_name:
            spool.remove(job.spool_name)
        log.info("job {job_id} {state} by {actor}: {reason}", job_id=job_id, state=state, actor=actor, reason=reason)
        return job

    return deferred.addCallback(remove_file)


def end_job_now(job_store, spool, job_id: int, state: str, *, actor: str, reason: str = ""):
    """The same, synchronously, for the CLI (which has no reactor)."""
    if state not in ENDING_STATES:
        raise ValueError(f"{state!r} does not end a job")
    job = job_store.change_state(job_id, state, actor=actor, reason=reason)
    if job.spool_name:
        spool.remove(job.spool_name)
    return job
