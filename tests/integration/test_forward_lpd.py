"""Forwarding held jobs to a real LPD printer sink over loopback."""
import hashlib
import time

import pytest

from spooler.forward import ForcedChanges, Forwarder, ForwardJob, PrinterTarget, RetryPolicy, Timeouts
from spooler.forward.lpd_client import LpdTimeouts
from tests.fixtures.printer_sinks import LpdSink, run_with_reactor, unused_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

UEL = b"\x1b%-12345X"
DOCUMENT = bytes(range(256)) * 4096  # 1 MiB, every byte value, zero bytes included
PJL_JOB = (UEL + b'@PJL JOB NAME="Q3"\r\n@PJL SET DUPLEX=OFF\r\n@PJL ENTER LANGUAGE=PCL\r\n'
           b"\x1bE\x1b&l0S page one \x0c\x1bE" + UEL + b"@PJL EOJ\r\n" + UEL)


def job_of(data: bytes, **kw) -> ForwardJob:
    chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
    return ForwardJob(job_id="j1", open_chunks=lambda: iter(chunks), size=len(data), title="Quarterly report",
                      user="alice", **kw)


def forward(job, target, **kw):
    kw.setdefault("retry", RetryPolicy(max_attempts=3, initial_delay=0.05, deadline=5))
    return run_with_reactor(lambda reactor: Forwarder(reactor, gateway_host="gw1", **kw).forward(job, target))


def test_a_job_arrives_byte_for_byte_with_its_control_file():
    with LpdSink() as sink:
        outcome = forward(job_of(DOCUMENT), PrinterTarget("lpd", "127.0.0.1", sink.port, queue="secure"))
        [received] = sink.wait_for_jobs(1)
    assert outcome.accepted and outcome.confirmed_by == "lpd-ack"
    assert received.complete and received.queue == "secure"
    assert received.sha256 == hashlib.sha256(DOCUMENT).hexdigest() == outcome.sha256
    lines = received.control_lines
    assert lines[:4] == ["Hgw1", "Palice", "JQuarterly report", "NQuarterly report"]
    assert lines.count(f"l{received.data_name}") == 1


def test_copies_become_format_lines_or_repeated_data():
    with LpdSink() as sink:
        forward(job_of(b"hello", copies=3), PrinterTarget("lpd", "127.0.0.1", sink.port))
        forward(job_of(b"hello", copies=3, copies_in_data=True), PrinterTarget("lpd", "127.0.0.1", sink.port))
        lines_job, data_job = sink.wait_for_jobs(2)
    assert lines_job.data == b"hello" and lines_job.control_lines.count(f"l{lines_job.data_name}") == 3
    assert data_job.data == b"hello" * 3 and data_job.control_lines.count(f"l{data_job.data_name}") == 1


def test_forced_mono_and_duplex_are_in_what_the_printer_received():
    with LpdSink() as sink:
        outcome = forward(job_of(PJL_JOB, forced=ForcedChanges(mono=True, duplex=True)),
                          PrinterTarget("lpd", "127.0.0.1", sink.port))
        [received] = sink.wait_for_jobs(1)
    assert outcome.accepted
    head = received.data.split(b"@PJL ENTER LANGUAGE")[0]
    assert head.endswith(b"@PJL SET DUPLEX=OFF\r\n@PJL SET RENDERMODE=GRAYSCALE\r\n@PJL SET DUPLEX=ON\r\n"
                         b"@PJL SET BINDING=LONGEDGE\r\n")
    assert received.data.endswith(b"\x1bE\x1b&l0S page one \x0c\x1bE" + UEL + b"@PJL EOJ\r\n" + UEL)


def test_a_printer_that_is_down_fails_quickly_after_bounded_retries():
    started = time.monotonic()
    outcome = forward(job_of(DOCUMENT), PrinterTarget("lpd", "127.0.0.1", unused_port()))
    assert not outcome.accepted and outcome.kind == "refused" and outcome.attempts == 3
    assert outcome.bytes_sent == 0
    assert time.monotonic() - started < 3


def test_a_queue_refusal_is_reported_as_rejected():
    with LpdSink(nack_queue=True) as sink:
        outcome = forward(job_of(DOCUMENT), PrinterTarget("lpd", "127.0.0.1", sink.port),
                          retry=RetryPolicy(max_attempts=2, initial_delay=0.05))
    assert not outcome.accepted and outcome.kind == "rejected" and "negative acknowledgement 1" in outcome.reason
    assert outcome.attempts == 2  # a queue refusal happens before any document byte: retried


def test_a_printer_that_takes_half_the_bytes_then_closes_is_a_failure_and_not_retried():
    half = len(DOCUMENT) // 2
    with LpdSink(close_after=half, receive_buffer=65536) as sink:
        outcome = forward(job_of(DOCUMENT), PrinterTarget("lpd", "127.0.0.1", sink.port),
                          timeouts=Timeouts(lpd=LpdTimeouts(ack=3, stall=3)))
        [received] = sink.wait_for_jobs(1)
    assert not outcome.accepted and outcome.kind == "connection-lost" and outcome.attempts == 1
    assert len(received.data) == half and not received.complete
    assert outcome.bytes_sent >= half
