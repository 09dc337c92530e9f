"""The IPP sender: ``spooler.ipp.client.IppPrinter`` behind the forwarder's ``Sender``
signature, registered as ``SENDERS["ipp"]`` when ``spooler.forward`` is imported.

What the charge assumed goes as job attributes, never as injected bytes (an IPP printer
gets the document as it was held): ``copies``, ``sides``, ``print-color-mode`` and
``media``, each when the printer supports it. One the charge depended on and the printer
does not support — more than one copy, two-sided or grey printing the job's own bytes do
not ask for (``ForwardJob.forced``) — stops the release before a byte is sent
(``InjectionError``): the printer would make something other than what was charged.

The ``document-format`` is the language the analyzer found, chosen among the printer's
``document-format-supported`` (``spooler.forward.formats``); a printer listing nothing that
fits gets nothing (``DocumentFormatUnsupported``). What a printer supports comes from
``SendContext.capabilities`` (asked once, kept a while per printer). ``ipps://`` printers
are reached over TLS with their certificate checked (``spooler.forward.tls_trust``); a
failed check is ``PrinterNotTrusted`` and nothing is sent over plain IPP instead.

The attempt succeeds only when the printer accepted the whole document *and* the job
reached ``completed``; a job the printer aborted or canceled is a refusal. A connection
that could not be made is retryable (no byte left us); anything after the document
started is not.
"""
from __future__ import annotations

import hashlib

from twisted.internet import defer
from twisted.internet.error import ConnectError, ConnectingCancelledError, TimeoutError as ConnectTimeoutError

from spooler.forward.capabilities import printer_for
from spooler.forward.errors import (
    ConnectionLostMidway, DocumentFormatUnsupported, ForwardTimeout, InjectionError, PrinterNotTrusted,
    PrinterRefusedJob, PrinterUnreachable,
)
from spooler.forward.formats import AUTO, choose_format, job_language
from spooler.forward.job import AttemptResult, ForwardJob, PrinterTarget
from spooler.ipp.client import (
    DocumentFormatNotSupported, IppClientError, IppStatusError, JobOptions, PrinterBusy, PrinterClosedEarly,
)
from spooler.ipp.constants import JobState
from spooler.pdl.pjl import UEL

GENERIC_FORMATS = ("", AUTO)
#: The analyzer's media names → PWG 5101.1 self-describing names (IPP ``media``).
PWG_MEDIA = {
    "letter": "na_letter_8.5x11in", "legal": "na_legal_8.5x14in", "executive": "na_executive_7.25x10.5in",
    "ledger": "na_ledger_11x17in", "a3": "iso_a3_297x420mm", "a4": "iso_a4_210x297mm", "a5": "iso_a5_148x210mm",
    "a6": "iso_a6_105x148mm", "b4": "iso_b4_250x353mm", "b5": "iso_b5_176x250mm",
    "com10": "na_number-10_4.125x9.5in", "monarch": "na_monarch_3.875x7.5in", "dl": "iso_dl_110x220mm",
    "c5": "iso_c5_162x229mm",
}


def sniff_document_format(head: bytes) -> str:
    """PDF and PostScript are recognised from their first bytes; anything else (PCL,
    PJL-wrapped jobs, text) is ``application/octet-stream`` (the printer auto-senses)."""
    head = head.lstrip(b"\x04")
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"%!"):
        return "application/postscript"
    return AUTO


class _CountingDocument:
    """``open()`` gives a fresh pass over the bytes to send; the latest pass is measured."""

    def __init__(self, job: ForwardJob):
        self.job = job
        self.bytes_sent = 0
        self.digest = hashlib.sha256()

    def open(self):
        self.bytes_sent = 0
        self.digest = hashlib.sha256()
        for chunk in self.job.chunks():
            self.bytes_sent += len(chunk)
            self.digest.update(chunk)
            yield chunk


def _first_bytes(job: ForwardJob, limit: int = 16) -> bytes:
    for chunk in job.chunks():
        return bytes(chunk[:limit])
    return b""


def document_format_for(job: ForwardJob, head: bytes, supported) -> str | None:
    """The ``document-format`` to send ``job`` as (see ``spooler.forward.formats``)."""
    pjl_header = head.startswith(UEL) or head[:4].upper() == b"@PJL"
    fallback = job.document_format if job.document_format not in GENERIC_FORMATS else sniff_document_format(head)
    return choose_format(job_language(job.pdl, job.languages), supported, pjl_header=pjl_header,
                         fallback="" if fallback == AUTO else fallback)


def job_options(job: ForwardJob, document_format: str) -> JobOptions:
    sides = job.sides
    if job.forced.duplex and not sides.startswith("two-sided"):
        sides = "two-sided-short-edge" if job.forced.binding == "SHORTEDGE" else "two-sided-long-edge"
    color_mode = "monochrome" if job.forced.mono else job.color_mode
    return JobOptions(job_name=job.title or f"job {job.job_id}", user=job.user or "printgate", copies=job.copies,
                      sides=sides, color_mode=color_mode, media=PWG_MEDIA.get(job.media.lower(), ""),
                      document_format=document_format)


def required_attributes(job: ForwardJob) -> set[str]:
    """The attributes the charge depended on that the job's bytes do not say already."""
    required = set()
    if job.copies > 1:
        required.add("copies")
    if job.forced.duplex:
        required.add("sides")
    if job.forced.mono:
        required.add("print-color-mode")
    return required


def _untrusted_or(printer, error, where):
    """``PrinterNotTrusted`` when the TLS check failed, else ``error``."""
    failure = printer.tls_options.failure if printer.tls_options is not None else None
    if failure:
        return PrinterNotTrusted(f"{where}: {failure}", target=where)
    return error


@defer.inlineCallbacks
def send_ipp(context, job: ForwardJob, target: PrinterTarget):
    where = target.describe()
    capabilities = context.capabilities
    try:
        attributes = yield capabilities.attributes(target)
    except PrinterNotTrusted:
        raise
    except (ConnectError, ConnectingCancelledError, ConnectTimeoutError) as error:
        raise PrinterUnreachable(f"cannot connect to {where}: {error}", target=where) from None
    except PrinterClosedEarly as error:
        # Nothing of the document was sent yet: a failed connect or a printer that hung up.
        raise PrinterUnreachable(str(error), target=where) from None
    except IppClientError as error:
        raise PrinterRefusedJob(str(error), stage="get-printer-attributes", code=error.status or 0,
                                target=where) from None
    printer = printer_for(target, context.reactor, user=job.user, timeout=max(context.timeouts.connect, 5.0),
                          busy_retries=2, busy_delay=1.0, poll_interval=0.25)
    printer.attributes = attributes
    supported_attribute = attributes.get("document-format-supported")
    supported = supported_attribute.python_values() if supported_attribute is not None else []
    head = yield context.run_blocking(lambda: _first_bytes(job))
    document_format = document_format_for(job, head, supported)
    if document_format is None:
        raise DocumentFormatUnsupported(f"{where} takes none of the formats this job could be sent as "
                                        f"({', '.join(supported)})", target=where, supported=supported)
    options = job_options(job, document_format)
    _, omitted = printer.job_attributes(options)
    missing = sorted(required_attributes(job) & set(omitted))
    if missing:
        raise InjectionError(f"{where} does not support {', '.join(missing)}, which this job was charged for",
                             offset=0)
    document = _CountingDocument(job)
    try:
        printed = yield printer.print_document(document.open, options)
    except (DocumentFormatNotSupported, PrinterBusy, IppStatusError) as error:
        capabilities.forget(target)  # what it claimed may have changed: ask again next time
        raise PrinterRefusedJob(str(error), stage="print", code=error.status or 0, target=where,
                                bytes_sent=document.bytes_sent) from None
    except PrinterClosedEarly as error:
        raise _untrusted_or(printer, ConnectionLostMidway(str(error), target=where, bytes_sent=document.bytes_sent,
                                                          before_document=document.bytes_sent == 0), where) from None
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
