"""Use case: receive a job — decide, record, hold, notify.

The print protocols hand their bytes to the intake (``spooler.intake``), which spools
and analyzes them and, through the group committer, asks this use case (the
``spooler.reception.JobReception`` interface): may the job be kept (accounting's rules,
price and balance: ``decide``), record it, and — once its sender has been told — send
what the rules asked to notify and the owner's notices (a receipt, a job a rule
changed). A refusal carries the rule's message, which each protocol answers in its own
way, and is a notice for the owner too.
"""
from __future__ import annotations

from typing import Protocol

from twisted.logger import Logger

from spooler.errors import JobRefused

log = Logger()


class ReceptionNotices(Protocol):
    """The owner's notices about received jobs."""

    def job_refused(self, new_job, decision) -> None:
        """A rule refused ``new_job`` (called in the committing thread)."""

    def jobs_recorded(self, jobs) -> None:
        """``jobs`` are held and their senders were told (on the reactor)."""


class JobReception:
    def __init__(self, accounting, notifier=None, *, notices=None):
        """``accounting``: an ``AccountingService`` (its synchronous ``core`` and
        ``jobs`` are used: the committer calls in from its own thread);
        ``notifier``: a ``gateway.notify.Notifier``, or None; ``notices``: a
        ``ReceptionNotices`` (the owner's receipt, refusal and change notices), or None."""
        self.accounting = accounting
        self.notifier = notifier
        self.notices = notices
        writer = accounting.database.writer
        # On SQLite, the committer's commits do not wait for the disk; this makes them
        # durable before anyone is told (``SerializedWriter.sync_commits``).
        self.sync_commits = writer.sync_commits if hasattr(writer, "sync_commits") else None
        self._pending_notifications: dict[int, list] = {}

    def admit(self, new_job) -> None:
        decision = self.accounting.core.decide(new_job)
        new_job.decision = decision
        if decision.action == "deny":
            log.info("job from {host} for {owner} refused by rule {rule}: {message}", host=new_job.source_host,
                     owner=new_job.owner, rule=decision.rule, message=decision.message)
            if self.notices is not None:
                self.notices.job_refused(new_job, decision)
            raise JobRefused(decision.message, user=new_job.owner)

    def admission_scope(self, new_jobs):
        return self.accounting.core.owners_read_once(new_jobs)

    def record_jobs(self, new_jobs):
        """Record, and keep what each job's decision asked to notify until the job has
        been acknowledged (``recorded``)."""
        held = self.accounting.jobs.record_jobs(new_jobs, sync=self.sync_commits is None)
        for new_job, job in zip(new_jobs, held):
            if new_job.decision is not None and new_job.decision.notify:
                self._pending_notifications[job.id] = list(new_job.decision.notify)
        return held

    def unrecord(self, held_jobs) -> None:
        """Their senders are told they failed, so they must not stay held (and be
        printed, or charged)."""
        for job in held_jobs:
            self._pending_notifications.pop(job.id, None)
            self.accounting.jobs.change_state(job.id, "deleted", actor="gateway", expect=("held",),
                                              reason="not stored: the database could not be made durable")

    def recorded(self, held_jobs) -> None:
        """On the reactor, once the jobs' senders have been told."""
        if self.notices is not None:
            self.notices.jobs_recorded(held_jobs)
        for job in held_jobs:
            entries = self._pending_notifications.pop(job.id, None)
            if entries and self.notifier is not None:
                self.notifier.job_recorded(job, entries)
