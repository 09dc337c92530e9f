"""Forwarding held jobs to a real RAW (9100) printer sink over loopback."""
import hashlib
import time

import pytest

from spooler.forward import ForcedChanges, Forwarder, ForwardJob, PrinterTarget, RawTimeouts, RetryPolicy, Timeouts
from tests.fixtures.printer_sinks import RawSink, run_with_reactor, unused_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

DOCUMENT = bytes(range(256)) * 16384  # 4 MiB
POSTSCRIPT = b"%!PS-Adobe-3.0\n%%Pages: 1\n%%EndComments\n/Helvetica findfont 12 scalefont setfont\nshowpage\n"


def job_of(data: bytes, **kw) -> ForwardJob:
    chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
    return ForwardJob(job_id="r1", open_chunks=lambda: iter(chunks), size=len(data), title="t", user="bob", **kw)


def forward(job, target, **kw):
    kw.setdefault("retry", RetryPolicy(max_attempts=3, initial_delay=0.05, deadline=5))
    return run_with_reactor(lambda reactor: Forwarder(reactor, gateway_host="gw1", **kw).forward(job, target))


def test_a_job_arrives_byte_for_byte_and_the_printer_close_confirms_it():
    with RawSink() as sink:
        outcome = forward(job_of(DOCUMENT), PrinterTarget("raw", "127.0.0.1", sink.port))
        [received] = sink.wait_for_jobs(1)
    assert outcome.accepted and outcome.confirmed_by == "peer-close"
    assert received.complete and received.sha256 == hashlib.sha256(DOCUMENT).hexdigest() == outcome.sha256


def test_copies_are_asked_of_the_printer_in_a_pjl_header_not_by_repeating_the_document():
    with RawSink() as sink:
        forward(job_of(b"abc", copies=2), PrinterTarget("raw", "127.0.0.1", sink.port))
        [received] = sink.wait_for_jobs(1)
    assert received.data == b"\x1b%-12345X@PJL\r\n@PJL SET QTY=2\r\nabc\x1b%-12345X"


def test_copies_of_a_postscript_job_are_its_num_copies():
    with RawSink() as sink:
        forward(job_of(POSTSCRIPT, copies=3), PrinterTarget("raw", "127.0.0.1", sink.port))
        [received] = sink.wait_for_jobs(1)
    assert b"{ << /NumCopies 3 >> setpagedevice } stopped pop" in received.data
    assert received.data.count(b"showpage") == POSTSCRIPT.count(b"showpage")


def test_only_the_first_copy_of_a_repeated_document_is_sent():
    with RawSink() as sink:
        job = ForwardJob(job_id="j1", open_chunks=lambda: iter([b"\x1bEone\x0c", b"\x1bE", b"one\x0c"]), size=12,
                         copies=2, copy_length=6)
        forward(job, PrinterTarget("raw", "127.0.0.1", sink.port))
        [received] = sink.wait_for_jobs(1)
    assert received.data == b"\x1b%-12345X@PJL\r\n@PJL SET QTY=2\r\n\x1bEone\x0c\x1b%-12345X"


def test_forced_duplex_and_gray_reach_a_postscript_printer_as_a_setpagedevice_prologue():
    with RawSink() as sink:
        outcome = forward(job_of(POSTSCRIPT, forced=ForcedChanges(mono=True, duplex=True)),
                          PrinterTarget("raw", "127.0.0.1", sink.port))
        [received] = sink.wait_for_jobs(1)
    assert outcome.accepted
    assert received.data.startswith(b"%!PS-Adobe-3.0\n%%Pages: 1\n%%EndComments\n%%BeginFeature")
    assert b"<< /Duplex true /Tumble false >> setpagedevice" in received.data
    assert b"<< /ProcessColorModel /DeviceGray >> setpagedevice" in received.data
    assert received.data.endswith(b"/Helvetica findfont 12 scalefont setfont\nshowpage\n")


def test_a_pcl_job_without_pjl_gets_a_new_pjl_wrapper():
    with RawSink() as sink:
        forward(job_of(b"\x1bE page \x0c\x1bE", forced=ForcedChanges(mono=True)),
                PrinterTarget("raw", "127.0.0.1", sink.port))
        [received] = sink.wait_for_jobs(1)
    assert received.data == (b"\x1b%-12345X@PJL\r\n@PJL SET RENDERMODE=GRAYSCALE\r\n\x1bE page \x0c\x1bE"
                             b"\x1b%-12345X")


def test_a_printer_that_is_down_fails_quickly_after_bounded_retries():
    started = time.monotonic()
    outcome = forward(job_of(DOCUMENT), PrinterTarget("raw", "127.0.0.1", unused_port()))
    assert not outcome.accepted and outcome.kind == "refused" and outcome.attempts == 3
    assert time.monotonic() - started < 3


def test_a_printer_that_takes_half_the_bytes_then_closes_is_a_failure():
    with RawSink(close_after=len(DOCUMENT) // 2, receive_buffer=65536) as sink:
        outcome = forward(job_of(DOCUMENT), PrinterTarget("raw", "127.0.0.1", sink.port),
                          timeouts=Timeouts(raw=RawTimeouts(stall=3, close_grace=1)))
        [received] = sink.wait_for_jobs(1)
    assert not outcome.accepted and outcome.kind == "connection-lost" and outcome.attempts == 1
    assert len(received.data) == len(DOCUMENT) // 2


def test_a_printer_that_never_closes_is_accepted_after_the_grace():
    with RawSink(hold_open=1.5) as sink:
        outcome = forward(job_of(b"abc"), PrinterTarget("raw", "127.0.0.1", sink.port),
                          timeouts=Timeouts(raw=RawTimeouts(close_grace=0.3)))
        [received] = sink.wait_for_jobs(1)
    assert outcome.accepted and outcome.confirmed_by == "grace" and received.data == b"abc"
