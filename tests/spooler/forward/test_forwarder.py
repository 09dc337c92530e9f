"""Retries, backoff and outcomes of the forwarder, on a fake clock with fake senders."""
from twisted.internet import defer
from twisted.internet.task import Clock

from spooler.forward import (
    ConnectionLostMidway, Forwarder, ForwardJob, PrinterRefusedJob, PrinterTarget, PrinterUnreachable, RetryPolicy,
)
from spooler.forward.errors import BadTarget
from spooler.forward.job import AttemptResult

import pytest

JOB = ForwardJob(job_id="j9", open_chunks=lambda: iter([b"x"]), size=1)
TARGET = PrinterTarget("lpd", "127.0.0.1", 5515, queue="q")


def forwarder(clock, outcomes, **kw):
    calls = []

    def sender(context, job, target):
        calls.append(clock.seconds())
        value = outcomes.pop(0)
        return defer.fail(value) if isinstance(value, Exception) else defer.succeed(value)

    fw = Forwarder(clock, senders={"lpd": sender}, run_blocking=defer.maybeDeferred, gateway_host="gw", **kw)
    return fw, calls


def result_of(d):
    box = []
    d.addBoth(box.append)
    return box[0] if box else None


def test_a_refused_connection_is_retried_with_growing_waits_then_reported():
    clock = Clock()
    fw, calls = forwarder(clock, [PrinterUnreachable("down")] * 4,
                          retry=RetryPolicy(max_attempts=4, initial_delay=1, factor=2, max_delay=3))
    d = fw.forward(JOB, TARGET)
    clock.pump([0.5] * 20)
    outcome = result_of(d)
    assert calls == [0, 1, 3, 6]
    assert not outcome.accepted and outcome.kind == "refused" and outcome.attempts == 4
    assert outcome.message == "The printer could not be reached."


def test_a_retry_that_succeeds_is_accepted_with_its_attempt_count():
    clock = Clock()
    fw, calls = forwarder(clock, [PrinterUnreachable("down"), AttemptResult(5, "ab", "lpd-ack")],
                          retry=RetryPolicy(initial_delay=1))
    d = fw.forward(JOB, TARGET)
    clock.advance(1)
    outcome = result_of(d)
    assert outcome.accepted and outcome.attempts == 2 and outcome.sha256 == "ab"


def test_a_failure_after_document_bytes_is_never_retried():
    clock = Clock()
    fw, calls = forwarder(clock, [ConnectionLostMidway("cut", bytes_sent=10, total_bytes=20)])
    outcome = result_of(fw.forward(JOB, TARGET))
    assert len(calls) == 1 and outcome.kind == "connection-lost" and outcome.bytes_sent == 10


def test_a_final_refusal_is_not_retried():
    clock = Clock()
    fw, calls = forwarder(clock, [PrinterRefusedJob("no", stage="data-file", code=1)])
    assert result_of(fw.forward(JOB, TARGET)).kind == "rejected" and len(calls) == 1


def test_no_retry_starts_after_the_deadline():
    clock = Clock()
    fw, calls = forwarder(clock, [PrinterUnreachable("down")] * 10,
                          retry=RetryPolicy(max_attempts=10, initial_delay=4, factor=1, deadline=10))
    d = fw.forward(JOB, TARGET)
    clock.pump([1] * 30)
    assert len(calls) == 3 and result_of(d).attempts == 3


def test_a_protocol_without_a_sender_says_so():
    clock = Clock()
    fw = Forwarder(clock, run_blocking=defer.maybeDeferred, senders={})
    outcome = result_of(fw.forward(JOB, PrinterTarget("ipp", "127.0.0.1", 631)))
    assert outcome.kind == "unsupported-protocol" and "ipp" in outcome.reason


def test_a_bad_target_is_refused_when_it_is_described():
    with pytest.raises(BadTarget):
        PrinterTarget("lpd", "host name with spaces", 515)
    with pytest.raises(BadTarget):
        PrinterTarget("lpd", "printer", 515, queue="a/b")


@pytest.mark.parametrize("protocol, endpoint, queue, expected", [
    ("lpd", "10.0.0.5", "secure", PrinterTarget("lpd", "10.0.0.5", None, queue="secure")),
    ("lpd", "lpd://printer.example:5515/floor3", None, PrinterTarget("lpd", "printer.example", 5515, queue="floor3")),
    ("raw", "socket://10.0.0.6:9101", None, PrinterTarget("raw", "10.0.0.6", 9101)),
    ("raw", "10.0.0.6:9100", None, PrinterTarget("raw", "10.0.0.6", 9100)),
    ("raw", "[fe80::1]:9100", None, PrinterTarget("raw", "fe80::1", 9100)),
    ("ipp", "ipp://mfp:631/ipp/print", None, PrinterTarget("ipp", "mfp", 631, resource="/ipp/print")),
])
def test_a_target_is_read_from_a_device_endpoint(protocol, endpoint, queue, expected):
    assert PrinterTarget.from_endpoint(protocol, endpoint, queue=queue) == expected


def test_an_endpoint_of_another_protocol_is_a_bad_target():
    with pytest.raises(BadTarget):
        PrinterTarget.from_endpoint("lpd", "socket://10.0.0.6:9100")


def test_the_ipp_client_plugs_in_through_the_sender_table():
    from spooler.forward import ForcedChanges, register_sender
    from spooler.forward.forwarder import SENDERS, send_ipp_unavailable

    seen = []

    def send_ipp(context, job, target):
        seen.append((job.forced, target.resource))
        return defer.succeed(AttemptResult(1, "cafe", "ipp-completed"))

    register_sender("ipp", send_ipp)
    try:
        job = ForwardJob(job_id="j", open_chunks=lambda: iter([b"x"]), forced=ForcedChanges(mono=True))
        outcome = result_of(Forwarder(Clock()).forward(job, PrinterTarget("ipp", "mfp", 631)))
    finally:
        SENDERS["ipp"] = send_ipp_unavailable
    assert outcome.accepted and outcome.confirmed_by == "ipp-completed"
    assert seen == [(ForcedChanges(mono=True), "/ipp/print")]
