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
from spooler.errors import OwnerUnknown, ShuttingDown, SpoolWriteError, UnknownQueue
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
        receiver = JobReceiver(self, metadata, self.spool.create(), self.analyzer_factory())
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

    def resolve_owner(self, metadata: JobMetadata, head: bytes) -> tuple[str, str | None]:
        """Owner and PJL job name. Who the client says it is (when the queue trusts
        that), else the PJL user name, else the address map, else ``unknown@host``
        — or a refusal, per the queue's ``unclaimed`` setting."""
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
        return f"unknown@{metadata.host}", pjl_name


class JobReceiver:
    """One job being received.

    The page analysis never runs on the reactor: when a PDF or PostScript section ends the
    analyzer may run qpdf or Ghostscript (seconds, for PostScript it must interpret), and
    sections end mid-stream (a Windows driver's PJL wrapper closes with a UEL). A small
    job's bytes are kept as they came and analyzed in the committer's thread
    (``make_record``); a job outgrowing ``KEEP_FOR_ANALYSIS`` is analyzed as it streams by
    a thread of its own (``BackgroundWork``)."""

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
        self.committing = False
        self.finished = False

    @property
    def size(self) -> int:
        return self.writer.size

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
        if self._kept is None:  # too many analysis threads when this job grew: inline
            self.analyzer.feed(data)
            return
        self._kept.append(data)
        self._kept_size += len(data)
        if self._kept_size > self.KEEP_FOR_ANALYSIS:
            self._analysis = BackgroundWork.start(self.analyzer.feed, name="printgate-analyzer")
            kept, self._kept = self._kept, None
            if self._analysis is None:
                # Analysed inline on the reactor from now on: only what scanning can tell,
                # never a Ghostscript run the whole gateway would wait for.
                self.analyzer.forgo_external_programs("too many large jobs arriving at once")
            for chunk in kept:
                if self._analysis is not None:
                    self._analysis.put(chunk)
                else:
                    self.analyzer.feed(chunk)

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

        ``make_record`` finishes the page analysis, which may run qpdf or Ghostscript, so
        the committer calls it in one of its threads, never on the reactor."""
        if self.finished or self.committing:
            raise SpoolWriteError("job already finished")
        self.committing = True
        try:
            owner, pjl_name = self.pipeline.resolve_owner(self.metadata, bytes(self._head))
            self.writer.finish()
        except Exception as exc:
            self.abort(str(exc))
            raise
        metadata = self.metadata
        title = metadata.title or pjl_name or title_from_head(bytes(self._head)) or ""
        received_at = datetime.now(timezone.utc)

        def make_record() -> NewJob:
            facts = self._facts()
            return NewJob(
                queue=metadata.queue, owner=owner, source_host=metadata.host, protocol=metadata.protocol,
                size=self.writer.size, sha256=self.writer.sha256, spool_name=self.writer.name,
                received_at=received_at, title=title[:1024], client_job_ref=metadata.client_job_ref,
                document_format=metadata.document_format, copies_requested=metadata.copies,
                sides=metadata.sides, color_mode=metadata.color_mode, attributes=metadata.attributes,
                facts=facts, spool_blob=self.writer.blob, spool_node=self.writer.store.node,
            )

        return self.writer, make_record

    @property
    def quick_to_record(self) -> bool:
        """After ``prepare``: whether ``make_record`` only computes, so the committer's
        own thread may run it: the bytes are in memory (the database will keep them) and
        what is left of the analysis only scans, never starting qpdf or Ghostscript."""
        if not self.writer.goes_to_database or self._analysis is not None or self._kept is None:
            return False
        return self.analyzer is None or not may_need_external_programs(b"".join(self._kept))

    def _facts(self) -> dict | None:
        """In a committer thread: the rest of the analysis, and its facts."""
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
            return self.analyzer.finish().to_dict()
        except Exception as exc:  # noqa: BLE001
            return {"pdl": "unknown", "warnings": [f"analyzer failed: {type(exc).__name__}: {exc}"], "method": "scan"}

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
