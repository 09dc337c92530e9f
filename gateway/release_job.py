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

import contextlib
from dataclasses import dataclass
from typing import Protocol

from twisted.internet import defer, task, threads
from twisted.logger import Logger

from accounting.errors import (
    AccountingError, AccountNotAllowed, ConfirmationRequired, InsufficientFunds, InvalidStateChange, JobNotFound,
    ReleaseRefused, SharedAccountRequired, UnknownAccount, UnknownDevice,
)
from accounting.job_titles import display_title
from gateway.register_device import BadRegistration, device_trust
from gateway.release_checks import DeviceChecks, NoDeviceChecks
from gateway.release_journal import ReleaseJournal
from spooler.forward import ForcedChanges, ForwardJob, PrinterTarget
from spooler.forward.errors import BadTarget
from spooler.forward.formats import cannot_print_note, choose_format, job_language

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


#: The most copies a printer is asked for (IPP ``copies-supported`` 1..999, as ours).
MAX_FORWARD_COPIES = 999


def forward_copies(job) -> int:
    """Copies to ask the printer for: those requested, capped by a rule."""
    copies = max(1, int(job.copies_requested or 1))
    limit = (job.decision_changes or {}).get("copies")
    if limit:
        copies = min(copies, max(1, int(limit)))
    return min(copies, MAX_FORWARD_COPIES)


def repeated_copy_length(job) -> int | None:
    """The length of one copy when the analyzer found the job to be one document repeated
    (fact ``copy_length``, with ``copies`` the repetitions), else None — also when the
    printer could not be asked for repetitions x requested copies: then the whole job
    goes, and the printer still makes (and the user pays for) every copy."""
    facts = job.facts or {}
    length, repetitions = facts.get("copy_length"), int(facts.get("copies") or 1)
    if not length or repetitions < 2 or (job.size is not None and int(length) >= job.size):
        return None
    if repetitions * forward_copies(job) > MAX_FORWARD_COPIES:
        return None
    return int(length)


def forward_settings(job, shape, device) -> dict:
    """What the printer is asked to make, from what the job was charged for (``shape``,
    the device quote's): every priced attribute reaches it. Copies: those requested
    (times the repetitions of a repeated document, sent once); sides, colour mode and
    media as charged (IPP attributes); and, written into the job for LPD/RAW or required
    of an IPP printer, what a rule forced and what the job's own bytes do not already
    say: grey printing of a job with colour at a colour printer (a mono printer prints
    grey anyway), two-sided printing of a job that does not ask for it itself."""
    facts = job.facts or {}
    copy_length = repeated_copy_length(job)
    repetitions = int(facts.get("copies") or 1) if copy_length else 1
    binding = "SHORTEDGE" if job.sides == "two-sided-short-edge" else "LONGEDGE"
    changes = job.decision_changes or {}
    colour_in_job = facts.get("color_pages") is None or int(facts["color_pages"]) > 0
    forced = ForcedChanges(mono=device.color and (bool(changes.get("mono")) or (not shape.color and colour_in_job)),
                           duplex=bool(changes.get("duplex")) or (shape.duplex and not facts.get("duplex")),
                           binding=binding)
    sides = ("two-sided-short-edge" if binding == "SHORTEDGE" else "two-sided-long-edge") if shape.duplex \
        else "one-sided"
    return dict(copies=forward_copies(job) * repetitions, copy_length=copy_length, forced=forced,
                sides=sides, color_mode="color" if shape.color else "monochrome",
                media="" if shape.media == "*" else shape.media, pdl=facts.get("pdl") or job.pdl or "",
                languages=tuple(facts.get("languages") or ()))


def device_target(core, device_name: str):
    """(Device, PrinterTarget): the registered device and how to reach it (synchronous,
    on an AccountingCore). Raises UnknownDevice, BadTarget."""
    device = core.devices.get(device_name)
    return device, target_of(core, device)


def target_of(core, device) -> PrinterTarget:
    """How to reach ``device``, with the TLS trust registered for an ``ipps://`` printer."""
    trust = device_trust(core, device.name) if device.endpoint.lower().startswith(("ipps:", "https:")) else None
    return PrinterTarget.from_endpoint(device.protocol, device.endpoint, name=device.name, trust=trust)


def start_and_quote(core, job_id: int, device, actor: str, account: str | None):
    """Reserve (``start_release``) and price the job as it goes to ``device``, in one
    call on an AccountingCore: what is reserved is what the printer is asked for."""
    started = core.start_release(job_id, device.name, actor, account=account)
    try:
        return started, core.release.quote(started, device)
    except Exception:
        # Nothing was sent: the reservation goes (or, if the database is away, the next
        # start puts the job back on hold).
        with contextlib.suppress(Exception):
            core.fail_release(job_id, "the job could not be priced for sending", actor=actor)
        raise


class JobRelease:
    def __init__(self, accounting, spool, forwarder, journal: ReleaseJournal, *, reactor, threadpool=None,
                 charge_attempts: int = 3, charge_retry_delay: float = 0.5, capabilities_wait: float = 3.0,
                 device_checks: DeviceChecks | None = None, observer=None):
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
        self.capabilities_wait = capabilities_wait
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
            device, target = yield self.target(device_name)
        except (UnknownDevice, BadTarget, BadRegistration) as error:
            log.warn("release of job {job_id} at {device_id}: the printer is not usable: {reason}", job_id=job_id,
                     device_id=device_name, reason=str(error))
            return ReleaseOutcome(job_id, REFUSED, "This printer is not set up correctly. Nothing was charged.", title)
        notes = yield self.printability([job], target)
        if job.id in notes:
            return ReleaseOutcome(job_id, REFUSED, notes[job.id], title)
        refusal = yield self.device_checks.check_release(device.name)
        if refusal:
            return ReleaseOutcome(job_id, REFUSED, refusal, title)
        try:
            started, quote = yield self._blocking(start_and_quote, self.accounting.core, job.id, device, actor, account)
        except InvalidStateChange:
            return ReleaseOutcome(job_id, REFUSED, "This job is already being printed.", title)
        except InsufficientFunds:
            return ReleaseOutcome(job_id, REFUSED, "Your balance is too low for this job.", title)
        except ReleaseRefused as refused:
            return ReleaseOutcome(job_id, REFUSED, refused.message or "A print rule does not allow this job now.",
                                  title)
        except SharedAccountRequired:
            return ReleaseOutcome(job_id, REFUSED, "This job must be charged to a shared account.", title)
        except ConfirmationRequired as waiting:
            return ReleaseOutcome(job_id, REFUSED, f"Confirm this job first. {waiting.message}".strip(), title)
        except (UnknownAccount, AccountNotAllowed):
            return ReleaseOutcome(job_id, REFUSED, "That account cannot be charged. Nothing was charged.", title)
        watch = yield self.device_checks.release_started(started, device.name)
        outcome = yield self._forward(started, target, title, forward_settings(started, quote.shape, device))
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

    def target(self, device_name: str):
        """Deferred[(Device, PrinterTarget)]: see ``device_target``."""
        return self._blocking(device_target, self.accounting.core, device_name)

    @defer.inlineCallbacks
    def printability(self, jobs, target):
        """Deferred[{job id: sentence}] for the jobs ``target`` cannot print at all: an
        IPP printer listing no document format that fits a job's language. A printer
        that cannot be asked right now, or does not answer within ``capabilities_wait``
        seconds (someone is waiting at the panel), is given the benefit of the doubt (the
        release then tries, and charges only what it took)."""
        if target.protocol != "ipp":
            return {}
        asking = self.forwarder.capabilities.document_formats(target)
        try:
            supported = yield asking.addTimeout(self.capabilities_wait, self.reactor)
        except Exception as error:  # noqa: BLE001 - unreachable, untrusted, slow: the release will say
            log.info("could not ask {target} what it prints: {error}", target=target.describe(),
                     error=str(error) or type(error).__name__)
            return {}
        notes = {}
        for job in jobs:
            facts = job.facts or {}
            pdl, languages = facts.get("pdl") or job.pdl or "", facts.get("languages") or ()
            language = job_language(pdl, languages)
            if language is not None and choose_format(language, supported, pjl_header=bool(facts.get("pjl"))) is None:
                notes[job.id] = cannot_print_note(pdl, languages, supported)
        return notes

    def _forward(self, job, target, title, settings: dict):
        spool_name = job.spool_name
        # A small job's bytes are in the database: read them here, in a thread, so that the
        # sender (which reads the spool on the reactor) never waits for the database.
        reading = self._blocking(self.spool.blob, spool_name)

        def unread(failure):
            log.failure("reading the bytes of job {job_id} ahead of sending failed", failure, job_id=job.id)
            return None

        def send(blob):
            forward_job = ForwardJob(
                job_id=str(job.id), open_chunks=lambda: self.spool.read_chunks(spool_name, blob=blob), size=job.size,
                title=title, user=job.owner, document_format=job.document_format or "", **settings)
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
