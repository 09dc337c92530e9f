"""Use case: release a held job at a printer — reserve, forward, charge — with every
outcome recorded, including "printed, charge pending".

0. **Ask the printer** (``gateway.release_checks``, the fleet when it is on): a printer in
   error refuses the release before anything is reserved, naming the nearest healthy
   printer of the same class.
1. **Reserve** (accounting ``start_release``: held → releasing): the rules are checked
   again, the job is priced for the device it goes to and that amount is set aside; a job
   the account cannot pay, or a rule now refuses, goes nowhere.
2. **Forward** the job's bytes to the device (``spooler.forward``), watched by the
   fleet (its page counter is read just before, and after until it settles, to compare
   with what the job should print). Not accepted: the reservation is dropped and the job is
   held again (``fail_release``); nothing is charged.
3. **Accepted**: one line in the node's ``ReleaseJournal`` (fsynced) records it at once.
4. **Charge** (``charge_release``: releasing → released), tried a few times. If it still
   fails, the job is recorded as ``charge_pending`` (printed, reservation kept, never
   offered for release again) — in the database when it answers, and in any case in the
   journal — and ``settle_pending_charges``, run on a schedule by the gateway, charges it
   once the database is back. The charge is idempotent per job, so a retry after a charge
   that did reach the database changes nothing.

An ``observer`` (the owner's notices) is told of a job not printed and of a job printed
(charged, or its charge pending: the reservation already holds the amount back).

At start, ``recover`` turns what the journal says was accepted into ``charge_pending``,
and puts back on hold the jobs this node was releasing whose acceptance was never seen.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from twisted.internet import defer, task, threads
from twisted.logger import Logger

from accounting.errors import (
    AccountingError, InsufficientFunds, InvalidStateChange, JobNotFound, ReleaseRefused, SharedAccountRequired,
    UnknownDevice,
)
from accounting.job_titles import display_title
from gateway.release_checks import DeviceChecks, NoDeviceChecks
from gateway.release_journal import ReleaseJournal
from spooler.forward import ForcedChanges, ForwardJob, PrinterTarget
from spooler.forward.errors import BadTarget

log = Logger()

PRINTED, CHARGE_PENDING, NOT_PRINTED, REFUSED = "printed", "charge-pending", "not-printed", "refused"


@dataclass(frozen=True)
class ReleaseOutcome:
    """What happened to one job. ``message`` is the sentence for the person at the
    printer (empty when it printed and was charged)."""

    job_id: int
    result: str  # PRINTED, CHARGE_PENDING, NOT_PRINTED or REFUSED
    message: str = ""
    title: str = ""
    charged: int | None = None

    @property
    def printed(self) -> bool:
        return self.result in (PRINTED, CHARGE_PENDING)


class ReleaseObserver(Protocol):
    """Told what became of a release once its own work is done (the owner's notices);
    it must not fail the release, and returns nothing the release waits for."""

    def release_failed(self, job, device: str, reason: str) -> None:
        """``job`` (the ``HeldJob`` being released) was not printed at ``device``."""

    def printed(self, job):
        """``job`` printed: charged, or its charge pending (its amount still reserved)."""


def job_title(job) -> str:
    return display_title(job)


def forward_copies(job) -> int:
    """Copies to ask the printer for: those requested, capped by a rule."""
    copies = max(1, int(job.copies_requested or 1))
    limit = (job.decision_changes or {}).get("copies")
    if limit:
        copies = min(copies, max(1, int(limit)))
    return min(copies, 999)


class JobRelease:
    def __init__(self, accounting, spool, forwarder, journal: ReleaseJournal, *, reactor, threadpool=None,
                 charge_attempts: int = 3, charge_retry_delay: float = 0.5, device_checks: DeviceChecks | None = None,
                 observer=None):
        """``accounting``: an ``AccountingService`` (Deferred API); ``spool``: the node's
        ``SpoolStore``; ``forwarder``: a ``spooler.forward.Forwarder``; blocking work (the
        journal's fsyncs, reading a small job's bytes) runs in ``threadpool`` (default:
        the reactor's); ``device_checks``: the fleet's gate and meter watch (default:
        none); ``observer``: a ``ReleaseObserver`` (notices) or None."""
        self.accounting = accounting
        self.threadpool = threadpool if threadpool is not None else reactor.getThreadPool()
        self.spool = spool
        self.forwarder = forwarder
        self.journal = journal
        self.reactor = reactor
        self.charge_attempts = charge_attempts
        self.charge_retry_delay = charge_retry_delay
        self.device_checks = device_checks if device_checks is not None else NoDeviceChecks()
        self._settling: defer.Deferred | None = None
        self.observer = observer

    def _blocking(self, function, *args):
        return threads.deferToThreadPool(self.reactor, self.threadpool, function, *args)

    @defer.inlineCallbacks
    def release(self, job_id: int, device_name: str, *, actor: str, owner: str | None = None,
                account: str | None = None):
        """Deferred[ReleaseOutcome]; never fails for a reason a person could cause.
        ``owner``: when given, a job of anyone else is answered as not found."""
        try:
            job = yield self.accounting.get_job(job_id)
        except JobNotFound:
            return ReleaseOutcome(job_id, REFUSED, "This job no longer exists.")
        if owner is not None and job.owner != owner:
            return ReleaseOutcome(job_id, REFUSED, "This job no longer exists.")
        title = job_title(job)
        if job.state != "held":
            already = {"releasing": "This job is already being printed.", "released": "This job was already printed.",
                       "charge_pending": "This job was already printed."}
            return ReleaseOutcome(job_id, REFUSED, already.get(job.state, "This job is no longer waiting."), title)
        if job.analysis_pending:
            # Its pages are still being counted (gateway.receive_job): not priced for sure yet.
            return ReleaseOutcome(job_id, REFUSED, "This job is still being counted. Try again in a minute.", title)
        try:
            device = yield self.accounting.get_device(device_name)
            target = PrinterTarget.from_endpoint(device.protocol, device.endpoint, name=device.name)
        except (UnknownDevice, BadTarget) as error:
            log.warn("release of job {job_id} at {device_id}: the printer is not usable: {reason}", job_id=job_id,
                     device_id=device_name, reason=str(error))
            return ReleaseOutcome(job_id, REFUSED, "This printer is not set up correctly. Nothing was charged.", title)
        refusal = yield self.device_checks.check_release(device.name)
        if refusal:
            return ReleaseOutcome(job_id, REFUSED, refusal, title)
        try:
            started = yield self.accounting.start_release(job.id, device.name, actor, account=account)
        except InvalidStateChange:
            return ReleaseOutcome(job_id, REFUSED, "This job is already being printed.", title)
        except InsufficientFunds:
            return ReleaseOutcome(job_id, REFUSED, "Your balance is too low for this job.", title)
        except ReleaseRefused as refused:
            return ReleaseOutcome(job_id, REFUSED, refused.message or "A print rule does not allow this job now.",
                                  title)
        except SharedAccountRequired:
            return ReleaseOutcome(job_id, REFUSED, "This job must be charged to a shared account.", title)
        watch = yield self.device_checks.release_started(started, device.name)
        outcome = yield self._forward(started, target, title)
        if not outcome.accepted:
            watch.abandoned()
            try:
                yield self.accounting.fail_release(started.id, f"{outcome.kind}: {outcome.reason}", actor=actor)
            except AccountingError:
                log.failure("job {job_id} was not printed and could not be put back on hold; the next start "
                            "holds it again", job_id=started.id)
            if self.observer is not None:
                self.observer.release_failed(started, device.name, outcome.message)
            return ReleaseOutcome(job_id, NOT_PRINTED, f"{outcome.message} Nothing was charged.", title)
        key = f"release:{started.id}:{started.updated_at.isoformat()}:{device.name}"
        yield self._blocking(self.journal.accepted, started.id, device.name, key)
        settled = yield self._charge(started.id, device.name, key, actor)
        watch.printed()  # after the charge: a shortfall found by the counter is refunded from it
        if self.observer is not None:
            self.observer.printed(started)
        if settled is None:
            return ReleaseOutcome(job_id, CHARGE_PENDING, "Printed. The charge could not be recorded yet; "
                                  "it will be taken automatically.", title)
        log.info("job {job_id} of {owner} released at {device_id} by {actor}: charged {amount}, ledger entry "
                 "{entry_id}", job_id=started.id, owner=started.owner, device_id=device.name, actor=actor,
                 amount=-settled.amount, entry_id=settled.id)
        return ReleaseOutcome(job_id, PRINTED, "", title, charged=-settled.amount)

    def _forward(self, job, target, title):
        spool_name = job.spool_name
        # A small job's bytes are in the database: read them here, in a thread, so that the
        # sender (which reads the spool on the reactor) never waits for the database.
        reading = self._blocking(self.spool.blob, spool_name)

        def unread(failure):
            log.failure("reading the bytes of job {job_id} ahead of sending failed", failure, job_id=job.id)
            return None

        def send(blob):
            changes = job.decision_changes or {}
            forward_job = ForwardJob(
                job_id=str(job.id), open_chunks=lambda: self.spool.read_chunks(spool_name, blob=blob), size=job.size,
                title=title, user=job.owner, copies=forward_copies(job),
                forced=ForcedChanges(mono=bool(changes.get("mono")), duplex=bool(changes.get("duplex"))),
                document_format=job.document_format or "")
            return self.forwarder.forward(forward_job, target)

        return reading.addErrback(unread).addCallback(send)

    @defer.inlineCallbacks
    def _charge(self, job_id: int, device: str, key: str, actor: str):
        """The ledger entry, or None when the charge is left pending (recorded)."""
        for attempt in range(1, self.charge_attempts + 1):
            try:
                entry = yield self.accounting.charge_release(job_id, device, key, actor)
            except Exception as error:  # noqa: BLE001 - the database may fail in any way
                log.warn("charging job {job_id} (printed at {device_id}) failed, attempt {attempt}: {error}",
                         job_id=job_id, device_id=device, attempt=attempt, error=error)
                if attempt < self.charge_attempts and self.charge_retry_delay:
                    yield task.deferLater(self.reactor, self.charge_retry_delay * attempt, lambda: None)
                continue
            yield self._settled(job_id)
            return entry
        try:
            yield self.accounting.mark_charge_pending(job_id, device, "the charge could not be written", actor=actor)
        except Exception as error:  # noqa: BLE001
            log.warn("job {job_id} printed at {device_id}: charge pending, kept in the release journal only "
                     "({error})", job_id=job_id, device_id=device, error=error)
        else:
            log.warn("job {job_id} printed at {device_id}: charge pending", job_id=job_id, device_id=device)
        return None

    @defer.inlineCallbacks
    def _settled(self, job_id: int):
        yield self._blocking(self.journal.settled, job_id)
        job = yield self.accounting.get_job(job_id)
        if job.spool_name:
            self.spool.remove(job.spool_name)

    # -- background and start -------------------------------------------------------------
    def settle_pending_charges(self):
        """Deferred[int]: charge every job printed but not charged yet (from the journal
        and from the database's ``charge_pending`` jobs); returns how many were settled.
        One run at a time."""
        if self._settling is not None:
            return defer.succeed(0)
        self._settling = self._settle_all()

        def done(result):
            self._settling = None
            return result

        return self._settling.addBoth(done)

    @defer.inlineCallbacks
    def _settle_all(self):
        journal = yield self._blocking(self.journal.pending)
        waiting = yield self.accounting.list_jobs(states=("charge_pending",))
        keys = {job_id: (entry.device, entry.key) for job_id, entry in journal.items()}
        for job in waiting:
            keys.setdefault(job.id, (job.release_device or "", f"release:{job.id}:pending:{job.release_device}"))
        settled = 0
        for job_id, (device, key) in sorted(keys.items()):
            try:
                job = yield self.accounting.get_job(job_id)
                if job.state in ("releasing", "charge_pending"):
                    entry = yield self.accounting.charge_release(job_id, device, key, "charge-retry")
                    log.info("job {job_id} printed at {device_id}: pending charge of {amount} taken",
                             job_id=job_id, device_id=device, amount=-entry.amount)
                yield self._settled(job_id)
                settled += 1
            except JobNotFound:
                yield self._blocking(self.journal.settled, job_id)
            except Exception as error:  # noqa: BLE001 - tried again on the next run
                log.warn("pending charge of job {job_id} not taken yet: {error}", job_id=job_id, error=error)
                break
        return settled

    def recover(self, core, spool_names: set[str]) -> None:
        """At start, before any listener (synchronous, on ``core``, an AccountingCore):
        acceptances in the journal become ``charge_pending``; other jobs this node was
        releasing go back on hold, uncharged."""
        accepted = self.journal.pending()
        for job_id, entry in accepted.items():
            try:
                job = core.jobs.get_job(job_id)
            except JobNotFound:
                continue
            if job.state == "releasing":
                core.mark_charge_pending(job_id, entry.device, "the gateway stopped before the charge",
                                         actor="gateway-start")
                log.warn("job {job_id} of {owner} was printed at {device_id} before the gateway stopped: "
                         "charge pending", job_id=job_id, owner=job.owner, device_id=entry.device)
        for job in core.jobs.list_jobs(states=("releasing",)):
            if job.spool_name in spool_names and job.id not in accepted:
                core.fail_release(job.id, "the gateway stopped during the release; nothing was charged",
                                  actor="gateway-start")
                log.warn("job {job_id} of {owner} was being released when the gateway stopped: held again, "
                         "nothing charged", job_id=job.id, owner=job.owner)
        self.journal.compact()
