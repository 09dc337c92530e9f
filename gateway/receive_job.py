"""Use case: receive a job — decide, record, hold, notify, and finish counting it.

The print protocols hand their bytes to the intake (``spooler.intake``), which spools
and scans them and, through the group committer, asks this use case (the
``spooler.reception.JobReception`` interface): may the job be kept (accounting's rules,
price and balance: ``decide``), record it, and — once its sender has been told — send
what the rules asked to notify and the owner's notices (a receipt, a job a rule
changed). A refusal carries the rule's message, which each protocol answers in its own
way, and is a notice for the owner too; the refused job is recorded (state ``refused``,
with its rule, message and policy record, and no bytes), and the notifications its rules
asked for are sent once that record is written.

A job whose counting needs Ghostscript (PostScript to interpret, the colour of PostScript
and PDF pages) was acknowledged on what scanning found, with ``analysis_pending``: it is
analysed here afterwards, from its stored bytes, in a pool shared fairly between senders
(``spooler.deferred_analysis``), and its facts and price estimate are replaced; until then
it cannot be released (``gateway.release_job``). A restart finds such jobs again
(``analyse_pending_jobs``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from spooler.deferred_analysis import analyse_stored
from spooler.errors import JobRefused
from spooler.pdl import Analyzer

log = Logger()

#: Seconds a refusal's record may wait for a group commit to carry it before it is written
#: on its own (and its notifications sent).
REFUSAL_FLUSH_DELAY = 1.0


class ReceptionNotices(Protocol):
    """The owner's notices about received jobs."""

    def job_refused(self, new_job, decision) -> None:
        """A rule refused ``new_job`` (called in the committing thread)."""

    def jobs_recorded(self, jobs) -> None:
        """``jobs`` are held and their senders were told (on the reactor)."""


class JobReception:
    def __init__(self, accounting, notifier=None, *, notices=None, reactor=None, spool=None, analysis_pool=None,
                 analyzer_factory=Analyzer):
        """``accounting``: an ``AccountingService`` (its synchronous ``core`` and
        ``jobs`` are used: the committer and the analysis pool call in from their own
        threads); ``notifier``: a ``gateway.notify.Notifier``, or None; ``notices``: a
        ``ReceptionNotices`` (the owner's receipt, refusal and change notices), or None;
        ``reactor``: where refusals are flushed and notified from (None: only with the
        next commit); ``spool`` and ``analysis_pool`` (a ``FairPool``): where jobs are
        analysed after they are stored (None: they keep what scanning found)."""
        self.accounting = accounting
        self.notifier = notifier
        self.notices = notices
        self.reactor = reactor
        self.spool = spool
        self.analysis_pool = analysis_pool
        self.analyzer_factory = analyzer_factory
        writer = accounting.database.writer
        # On SQLite, the committer's commits do not wait for the disk; this makes them
        # durable before anyone is told (``SerializedWriter.sync_commits``).
        self.sync_commits = writer.sync_commits if hasattr(writer, "sync_commits") else None
        self._pending_notifications: dict[int, list] = {}
        self._refusal_flush = None

    # -- the committer's calls (its thread) ------------------------------------------------
    def admit(self, new_job) -> None:
        decision = self.accounting.core.decide(new_job)
        new_job.decision = decision
        if decision.action == "deny":
            log.info("job from {host} for {owner} refused by rule {rule}: {message}", host=new_job.source_host,
                     owner=new_job.owner, rule=decision.rule, message=decision.message)
            if self.notices is not None:
                self.notices.job_refused(new_job, decision)
            if self.reactor is not None:
                self.reactor.callFromThread(self._flush_refusals_soon)
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
        self._notify_refused(self.accounting.core.decisions.pending.take_written())
        return held

    def unrecord(self, held_jobs) -> None:
        """Their senders are told they failed, so they must not stay held (and be
        printed, or charged)."""
        for job in held_jobs:
            self._pending_notifications.pop(job.id, None)
            self.accounting.jobs.change_state(job.id, "deleted", actor="gateway", expect=("held",),
                                              reason="not stored: the database could not be made durable")

    # -- on the reactor ----------------------------------------------------------------------
    def recorded(self, held_jobs) -> None:
        """On the reactor, once the jobs' senders have been told. The owner's notices of a
        job still to be counted wait for its count (``analyse_later``), so that a receipt
        gives its pages and price, not what scanning could tell."""
        if self.notices is not None:
            self.notices.jobs_recorded([job for job in held_jobs if not job.analysis_pending])
        for job in held_jobs:
            entries = self._pending_notifications.pop(job.id, None)
            if entries and self.notifier is not None:
                self.notifier.job_recorded(job, entries)
            if job.analysis_pending:
                self.analyse_later(job)

    def _flush_refusals_soon(self) -> None:
        if self._refusal_flush is not None and self._refusal_flush.active():
            return
        self._refusal_flush = self.reactor.callLater(REFUSAL_FLUSH_DELAY, self._flush_refusals)

    def _flush_refusals(self):
        self._refusal_flush = None
        decisions = self.accounting.core.decisions

        def flush():
            decisions.pending.flush()
            return decisions.pending.take_written()

        d = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), flush)
        d.addCallback(self._notify_refused_now)
        d.addErrback(lambda f: log.warn("recording refused jobs failed, tried again with the next job: {error}",
                                        error=f.getErrorMessage()))
        return d

    def _notify_refused(self, written) -> None:
        """From any thread: the refused jobs just written, notified on the reactor."""
        if written and self.notifier is not None:
            if self.reactor is not None:
                self.reactor.callFromThread(self._notify_refused_now, written)
            else:
                self._notify_refused_now(written)

    def _notify_refused_now(self, written) -> None:
        for job, decision in written:
            if decision.notify and self.notifier is not None:
                self.notifier.job_recorded(job, list(decision.notify))

    # -- analysis after storing ------------------------------------------------------------------
    def analyse_later(self, job) -> None:
        """Queue ``job`` (a ``HeldJob`` with ``analysis_pending``) for its full analysis;
        then tell its owner about it, as counted."""
        if self.analysis_pool is None or self.spool is None:
            self._tell_owner(job)
            return
        d = self.analysis_pool.submit(job.source_host, lambda: self._analyse(job))

        def not_counted(failure):
            log.failure("analysing job {job_id} after it was stored failed", failure, job_id=job.id)
            return job

        d.addErrback(not_counted)
        d.addCallback(self._tell_owner)
        d.addErrback(lambda f: log.failure("notices of job {job_id} failed", f, job_id=job.id))

    def _tell_owner(self, job) -> None:
        """On the reactor: the owner's notices of a job counted after it was stored, if it
        is still held."""
        if self.notices is not None and job.state == "held":
            self.notices.jobs_recorded([job])

    def analyse_pending_jobs(self) -> int:
        """At start (blocking; before the reactor runs): queue every live job whose
        analysis a stop interrupted."""
        jobs = self.accounting.jobs.pending_analysis()
        for job in jobs:
            self.analyse_later(job)
        if jobs:
            log.info("{count} job(s) still to be counted after a restart", count=len(jobs))
        return len(jobs)

    def _analyse(self, job):
        """In a pool thread: the job's facts from its stored bytes; its price estimate
        follows them. A job whose bytes are gone (ended meanwhile) keeps what it had.
        Returns the job as it now stands."""
        try:
            facts = analyse_stored(self.spool, job.spool_name, analyzer_factory=self.analyzer_factory)
        except FileNotFoundError:
            facts = None
        estimate = None
        if facts is not None:
            try:
                estimate = self.accounting.core.decisions.recheck(replace(job, facts=facts)).price_estimate
            except Exception as exc:  # noqa: BLE001 - the facts count more than the estimate
                log.warn("job {job_id}: no new price estimate ({error})", job_id=job.id, error=exc)
        self.accounting.jobs.record_facts(job.id, facts, price_estimate=estimate)
        log.info("job {job_id} counted after it was stored: {pages} pages, {copies} copies ({method})",
                 job_id=job.id, pages=(facts or {}).get("pages"), copies=(facts or {}).get("copies"),
                 method=(facts or {}).get("method", "bytes gone"))
        return self.accounting.jobs.get_job(job.id)
