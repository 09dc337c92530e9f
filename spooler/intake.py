"""The intake pipeline every protocol hands its jobs to.

A protocol calls ``IntakePipeline.begin(metadata)`` when a job starts, ``write`` for each
chunk as it arrives (the bytes go to the encrypted spool and to the page analyzer in the
same pass, so no job is read twice), and ``commit()`` at the end; the Deferred it gets
fires with the recorded ``HeldJob`` once the job is durable, and only then may the
protocol acknowledge it. ``abort`` leaves nothing behind.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger

from accounting.records import NewJob
from spooler.background import BackgroundWork
from spooler.config import GatewayConfig
from spooler.errors import EmptyJob, OwnerUnknown, ShuttingDown, SpoolWriteError, UnknownQueue
from spooler.pdl import Analyzer
from spooler.pdl.detect import may_need_external_programs
from spooler.document_title import title_from_head
from spooler.pdl.pjl import HEAD_LIMIT, parse_header

log = Logger()


@dataclass
class JobMetadata:
    """What the client said about a job. ``user`` is None when the protocol has no say
    (RAW), in which case the owner comes from PJL in the job, then the address map."""

    protocol: str
    host: str
    queue: str | None = None
    user: str | None = None
    title: str = ""
    copies: int = 1
    sides: str = ""
    color_mode: str = ""
    document_format: str = "application/octet-stream"
    client_job_ref: str = ""
    attributes: dict = field(default_factory=dict)


class IntakePipeline:
    def __init__(self, *, config: GatewayConfig, spool, committer, analyzer_factory=Analyzer, clock=None,
                 on_recorded=None):
        """``on_recorded(jobs)``, when given, is told about every recorded unit after
        ``commit_together``'s Deferred has reached its callers; its errors are logged."""
        self.config = config
        self.on_recorded = on_recorded
        self.spool = spool
        self.committer = committer
        self.analyzer_factory = analyzer_factory
        self.in_flight: set[JobReceiver] = set()
        self.accepting = True

    def begin(self, metadata: JobMetadata) -> "JobReceiver":
        if not self.accepting:
            raise ShuttingDown("the gateway is shutting down")
        queue = self.config.queue(metadata.queue)
        if queue is None:
            raise UnknownQueue(metadata.queue)
        metadata = replace(metadata, queue=queue.name)
        # What is counted before the acknowledgement only scans: Ghostscript's work (PostScript
        # to interpret, colour of PostScript and PDF pages) waits until the job is stored.
        analyzer = self.analyzer_factory(interpret=False, colour=False)
        receiver = JobReceiver(self, metadata, self.spool.create(), analyzer)
        self.in_flight.add(receiver)
        return receiver

    def commit_together(self, receivers) -> "Deferred":
        """Commit several receivers as one unit (the data files of one LPD job): the
        Deferred fires with their ``HeldJob`` list once all are durable, or fails and
        keeps none of them."""
        files = []
        try:
            for receiver in receivers:
                files.append(receiver.prepare())
        except Exception as exc:  # noqa: BLE001
            for receiver in receivers:
                receiver.abort(str(exc))
            return fail(exc)
        # The check reads the whole job (about 10 µs per 10 KiB, on the reactor): only
        # when the committer would use the answer.
        quick = self.committer.busy and all(receiver.quick_to_record for receiver in receivers)
        deferred = self.committer.submit(files, quick=quick)

        def settled(result):
            for receiver in receivers:
                receiver._done(None)
            return result

        def logged(jobs):
            for job in jobs:
                log.info(
                    "job {job_id} held for {owner} from {host} over {protocol}: {size} bytes, {pages} pages",
                    job_id=job.id, owner=job.owner, host=job.source_host, protocol=job.protocol,
                    size=job.size, pages=job.pages,
                )
            if self.on_recorded is not None:
                deferred.addBoth(told, jobs)  # runs after the callbacks the caller adds
            return jobs

        def told(result, jobs):
            try:
                self.on_recorded(jobs)
            except Exception:  # noqa: BLE001 - never fails a job that is already kept
                log.failure("on_recorded failed for jobs {job_ids}", job_ids=[job.id for job in jobs])
            return result

        deferred.addBoth(settled)
        deferred.addCallback(logged)
        return deferred

    def stop_accepting(self) -> None:
        self.accepting = False

    def discard_in_flight(self) -> int:
        """At shutdown: drop every job still being received (nothing was acknowledged)."""
        receivers = [r for r in self.in_flight if not r.committing]
        for receiver in receivers:
            receiver.abort("gateway shutting down")
        return len(receivers)

    def resolve_owner(self, metadata: JobMetadata, head: bytes) -> tuple[str | None, str | None]:
        """Owner and PJL job name. Who the client says it is (when the queue trusts
        that), else the PJL user name, else the address map, else nobody (None: the job
        is held unclaimed, as ``unknown@host``) — or a refusal, per the queue's
        ``unclaimed`` setting."""
        queue = self.config.queue(metadata.queue)
        pjl = parse_header(head) if head else None
        pjl_name = pjl.job_name if pjl else None
        if metadata.user and queue.trust_client_user:
            return metadata.user, pjl_name
        if pjl and pjl.user_name:
            return pjl.user_name, pjl_name
        mapped = self.config.raw_address_users.get(metadata.host)
        if mapped:
            return mapped, pjl_name
        if queue.unclaimed == "refuse":
            raise OwnerUnknown(metadata.host)
        return None, pjl_name


#: Languages whose full analysis runs Ghostscript (PostScript to interpret, colour of
#: PostScript and PDF pages): a job holding one is analysed again once it is stored.
NEEDS_GHOSTSCRIPT = frozenset({"postscript", "pdf"})


class JobReceiver:
    """One job being received.

    No page analysis ever runs on the reactor, and the acknowledgement never waits for
    Ghostscript. Before the job is recorded its bytes are only scanned (the analyzer has
    ``interpret=False, colour=False``: page counts from the bytes, DSC and PDF page trees):
    a small job's bytes are kept as they came and scanned in a committer thread
    (``make_record``); a job outgrowing ``KEEP_FOR_ANALYSIS`` is scanned as it streams by a
    thread of its own (``BackgroundWork``), and when no such thread can be had its whole
    analysis waits until it is stored. A job holding PostScript or PDF, or one not scanned,
    is recorded with ``analysis_pending``: the application analyses it fully after the
    acknowledgement (``gateway.receive_job``) and it cannot be released before."""

    KEEP_FOR_ANALYSIS = 512 * 1024

    def __init__(self, pipeline: IntakePipeline, metadata: JobMetadata, writer, analyzer):
        self.pipeline = pipeline
        self.metadata = metadata
        self.writer = writer
        self.analyzer = analyzer
        self.analyzer_error: str | None = None
        self._head = bytearray()
        self._kept: list[bytes] | None = []
        self._kept_size = 0
        self._analysis: BackgroundWork | None = None
        #: Nothing was scanned before the acknowledgement: it is all analysed afterwards.
        self.analysis_deferred = False
        self.committing = False
        self.finished = False

    @property
    def size(self) -> int:
        return self.writer.size

    @property
    def in_memory(self) -> int:
        """Bytes of this job the gateway holds in memory (spool and analysis), for
        protocols that bound what one connection may hold (LPD's data files)."""
        kept = self._kept_size if self._kept is not None else 0
        analysis = self._analysis.in_flight if self._analysis is not None else 0
        return self.writer.in_memory + kept + analysis

    def write(self, data: bytes) -> None:
        """Spool and analyze one chunk. Raises ``JobTooLarge`` / ``SpoolWriteError``;
        the caller then calls ``abort``."""
        self.writer.write(data)
        if len(self._head) < HEAD_LIMIT:
            self._head += data[: HEAD_LIMIT - len(self._head)]
        if self.analyzer is None:
            return
        if type(data) is not bytes:
            data = bytes(data)  # the caller may reuse its buffer
        if self._analysis is not None:
            try:
                self._analysis.put(data)
            except Exception as exc:  # noqa: BLE001 - a job we cannot read is still held
                self._analysis_failed(exc)
            return
        self._kept.append(data)
        self._kept_size += len(data)
        if self._kept_size > self.KEEP_FOR_ANALYSIS:
            self._analysis = BackgroundWork.start(self.analyzer.feed, name="printgate-analyzer")
            kept, self._kept = self._kept, None
            if self._analysis is None:
                # Too many large jobs arriving at once for a thread each: nothing is
                # analysed here (this is the reactor); all of it once the job is stored.
                self.analyzer = None
                self.analysis_deferred = True
                return
            for chunk in kept:
                self._analysis.put(chunk)

    def _analysis_failed(self, exc) -> None:
        self.analyzer_error = f"{type(exc).__name__}: {exc}"
        self.analyzer = None
        self._kept = None
        analysis, self._analysis = self._analysis, None
        if analysis is not None:
            analysis.abandon(wait=False)

    def commit(self):
        """Finish the job; the Deferred fires with the ``HeldJob`` once it is durable."""
        deferred = self.pipeline.commit_together([self])
        deferred.addCallback(lambda jobs: jobs[0])
        return deferred

    def prepare(self):
        """Finish receiving: returns ``(writer, make_record)`` for the group committer.
        Raises (after aborting) when the job cannot be kept, e.g. no owner.

        ``make_record`` finishes the scan, which may read a PDF's page tree with qpdf (never
        Ghostscript), so the committer calls it in one of its threads, never on the reactor."""
        if self.finished or self.committing:
            raise SpoolWriteError("job already finished")
        self.committing = True
        try:
            if self.writer.size == 0:
                raise EmptyJob(self.metadata.host)
            owner, pjl_name = self.pipeline.resolve_owner(self.metadata, bytes(self._head))
            self.writer.finish()
        except Exception as exc:
            self.abort(str(exc))
            raise
        metadata = self.metadata
        if owner is None:
            # Held for whoever claims it at a printer (accounting.decisions.UNCLAIMED).
            owner = f"unknown@{metadata.host}"
            metadata = replace(metadata, attributes={**metadata.attributes, "unclaimed": True})
        title = metadata.title or pjl_name or title_from_head(bytes(self._head)) or ""
        received_at = datetime.now(timezone.utc)

        def make_record() -> NewJob:
            facts = self._facts()
            pending = self.analysis_deferred or bool(NEEDS_GHOSTSCRIPT.intersection(
                (facts or {}).get("languages") or ()))
            return NewJob(
                queue=metadata.queue, owner=owner, source_host=metadata.host, protocol=metadata.protocol,
                size=self.writer.size, sha256=self.writer.sha256, spool_name=self.writer.name,
                received_at=received_at, title=title[:1024], client_job_ref=metadata.client_job_ref,
                document_format=metadata.document_format, copies_requested=metadata.copies,
                sides=metadata.sides, color_mode=metadata.color_mode, attributes=metadata.attributes,
                facts=facts, spool_blob=self.writer.blob, spool_node=self.writer.store.node,
                analysis_pending=pending,
            )

        return self.writer, make_record

    @property
    def quick_to_record(self) -> bool:
        """After ``prepare``: whether ``make_record`` only computes, so the committer's
        own thread may run it: the bytes are in memory (the database will keep them) and
        the scan left to do cannot reach qpdf (no PDF, nor PostScript, in the bytes)."""
        if not self.writer.goes_to_database or self._analysis is not None or self._kept is None:
            return False
        return self.analyzer is None or not may_need_external_programs(b"".join(self._kept))

    def _facts(self) -> dict | None:
        """In a committer thread: the rest of the scan, and its facts (None when the
        whole analysis waits until the job is stored)."""
        if self.analysis_deferred:
            return None
        try:
            if self.analyzer is not None:
                if self._analysis is not None:
                    self._analysis.close()
                    self._analysis.wait()
                else:
                    for chunk in self._kept or ():
                        self.analyzer.feed(chunk)
                    self._kept = None
        except Exception as exc:  # noqa: BLE001 - a job we cannot read is still held
            self._analysis_failed(exc)
        if self.analyzer is None:
            return {"pdl": "unknown", "warnings": [f"analyzer failed: {self.analyzer_error}"], "method": "scan"}
        try:
            facts = self.analyzer.finish().to_dict()
        except Exception as exc:  # noqa: BLE001
            return {"pdl": "unknown", "warnings": [f"analyzer failed: {type(exc).__name__}: {exc}"], "method": "scan"}
        facts["copy_length"] = None  # known only once the job is stored (spooler.pdl.repeats)
        return facts

    def _done(self, result):
        self.finished = True
        self.pipeline.in_flight.discard(self)
        return result

    def abort(self, reason: str = "") -> None:
        if self.finished:
            return
        self.finished = True
        self.pipeline.in_flight.discard(self)
        self._kept = None
        analysis, self._analysis = self._analysis, None
        if analysis is not None:
            analysis.abandon(wait=False)
        self.writer.discard()
        log.info("job from {host} over {protocol} discarded: {reason}",
                 host=self.metadata.host, protocol=self.metadata.protocol, reason=reason)
