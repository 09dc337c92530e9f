"""The IPP sender: ``spooler.ipp.client.IppPrinter`` behind the forwarder's ``Sender``
signature, registered as ``SENDERS["ipp"]`` when ``spooler.forward`` is imported.

Forced changes become job attributes (``print-color-mode=monochrome``,
``sides=two-sided-long-edge``), never injected bytes: an IPP printer gets the document
as it was held. A printer that does not support a forced attribute gets nothing (an
``InjectionError``: the rule's change cannot be applied there). The attempt succeeds only
when the printer accepted the whole document *and* the job reached ``completed``; a job
the printer aborted or canceled is a refusal. A connection that could not be made is
retryable (no byte left us); anything after the document started is not.
"""
from __future__ import annotations

import hashlib

from twisted.internet import defer
from twisted.internet.error import ConnectError, ConnectingCancelledError, TimeoutError as ConnectTimeoutError

from spooler.forward.errors import (
    ConnectionLostMidway, ForwardTimeout, InjectionError, PrinterRefusedJob, PrinterUnreachable,
)
from spooler.forward.job import AttemptResult, ForwardJob, PrinterTarget
from spooler.ipp.client import (
    DocumentFormatNotSupported, IppClientError, IppPrinter, IppStatusError, JobOptions, PrinterBusy, PrinterClosedEarly,
)
from spooler.ipp.constants import JobState

GENERIC_FORMATS = ("", "application/octet-stream")


def sniff_document_format(head: bytes) -> str:
    """PDF and PostScript are recognised from their first bytes; anything else (PCL,
    PJL-wrapped jobs, text) is ``application/octet-stream`` (the printer auto-senses)."""
    head = head.lstrip(b"\x04")
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"%!"):
        return "application/postscript"
    return "application/octet-stream"


class _CountingDocument:
    """``open()`` gives a fresh pass over the spool; the latest pass is measured."""

    def __init__(self, job: ForwardJob):
        self.job = job
        self.bytes_sent = 0
        self.digest = hashlib.sha256()

    def open(self):
        self.bytes_sent = 0
        self.digest = hashlib.sha256()
        for chunk in self.job.open_chunks():
            self.bytes_sent += len(chunk)
            self.digest.update(chunk)
            yield chunk


def _first_bytes(job: ForwardJob, limit: int = 16) -> bytes:
    for chunk in job.open_chunks():
        return bytes(chunk[:limit])
    return b""


def ipp_uri(target: PrinterTarget) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"ipp://{host}:{target.effective_port}{target.resource}"


@defer.inlineCallbacks
def send_ipp(context, job: ForwardJob, target: PrinterTarget):
    where = target.describe()
    timeout = context.timeouts.connect
    printer = IppPrinter(ipp_uri(target), reactor=context.reactor, user=job.user or "printgate",
                         timeout=max(timeout, 5.0), busy_retries=2, busy_delay=1.0, poll_interval=0.25)
    document = _CountingDocument(job)
    try:
        yield printer.get_printer_attributes()
    except (ConnectError, ConnectingCancelledError, ConnectTimeoutError) as error:
        raise PrinterUnreachable(f"cannot connect to {where}: {error}", target=where) from None
    except PrinterClosedEarly as error:
        # Nothing of the document was sent yet: a failed connect or a printer that hung up.
        raise PrinterUnreachable(str(error), target=where) from None
    except IppClientError as error:
        raise PrinterRefusedJob(str(error), stage="get-printer-attributes", code=error.status or 0,
                                target=where) from None
    document_format = job.document_format
    if document_format in GENERIC_FORMATS:
        document_format = sniff_document_format((yield context.run_blocking(lambda: _first_bytes(job))))
    supported = printer.attributes.get("document-format-supported")
    formats = supported.python_values() if supported is not None else []
    if formats and document_format not in formats and "application/octet-stream" in formats:
        document_format = "application/octet-stream"
    options = JobOptions(job_name=job.title or f"job {job.job_id}", user=job.user or "printgate", copies=job.copies,
                         sides="two-sided-long-edge" if job.forced.duplex and job.forced.binding == "LONGEDGE"
                         else "two-sided-short-edge" if job.forced.duplex else "",
                         color_mode="monochrome" if job.forced.mono else "", document_format=document_format)
    _, omitted = printer.job_attributes(options)
    forced_missing = [name for name in omitted if name in ("sides", "print-color-mode")]
    if forced_missing:
        raise InjectionError(f"{where} does not support {', '.join(forced_missing)}, which a rule forces", offset=0)
    try:
        printed = yield printer.print_document(document.open, options)
    except DocumentFormatNotSupported as error:
        raise PrinterRefusedJob(str(error), stage="print", code=error.status or 0, target=where,
                                bytes_sent=document.bytes_sent) from None
    except PrinterBusy as error:
        raise PrinterRefusedJob(str(error), stage="print", code=error.status or 0, target=where,
                                bytes_sent=document.bytes_sent) from None
    except IppStatusError as error:
        raise PrinterRefusedJob(str(error), stage="print", code=error.status or 0, target=where,
                                bytes_sent=document.bytes_sent) from None
    except PrinterClosedEarly as error:
        raise ConnectionLostMidway(str(error), target=where, bytes_sent=document.bytes_sent,
                                   before_document=document.bytes_sent == 0) from None
    except (ConnectError, ConnectingCancelledError, ConnectTimeoutError) as error:
        raise PrinterUnreachable(f"cannot connect to {where}: {error}", target=where) from None
    except IppClientError as error:
        raise ConnectionLostMidway(str(error), target=where, bytes_sent=document.bytes_sent) from None
    sent, sha256 = document.bytes_sent, document.digest.hexdigest()
    try:
        final = yield printer.wait_for_job(printed.job_id, job.user or None, timeout=context.timeouts.ipp_job)
    except IppClientError as error:
        raise ForwardTimeout(f"{where} did not report job {printed.job_id} finished: {error}", stage="ipp-job",
                             seconds=context.timeouts.ipp_job, target=where, bytes_sent=sent) from None
    state = final.get("job-state")
    if state != JobState.COMPLETED:
        name = JobState(state).name.lower() if state in set(JobState) else f"state {state}"
        raise PrinterRefusedJob(f"{where} ended job {printed.job_id} as {name}: "
                                f"{final.get('job-state-message') or final.get('job-state-reasons')}",
                                stage="ipp-job", code=int(state or 0), target=where, bytes_sent=sent)
    return AttemptResult(bytes_sent=sent, sha256=sha256, confirmed_by="ipp-completed")
