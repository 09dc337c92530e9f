"""Our forwarder against an independent implementation of the same protocols: the
gateway's own LPD and RAW listeners (a real gateway process on loopback) as the printer."""
import hashlib

import pytest

from spooler.forward import Forwarder, ForwardJob, PrinterTarget, RetryPolicy
from tests.fixtures.printer_sinks import run_with_reactor

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

UEL = b"\x1b%-12345X"
PJL_JOB = (UEL + b'@PJL JOB NAME="Budget 2027.xlsx"\r\n@PJL SET USERNAME="carol"\r\n'
           b"@PJL ENTER LANGUAGE=PCL\r\n\x1bE page \x0c\x1bE" + UEL)


def forward(job, target):
    return run_with_reactor(lambda reactor: Forwarder(
        reactor, gateway_host="upstream-gw", retry=RetryPolicy(max_attempts=2, initial_delay=0.05)).forward(job, target))


def job_of(data, **kw):
    return ForwardJob(job_id="fw1", open_chunks=lambda: iter([data[:7], data[7:]]), size=len(data), **kw)


def test_the_gateways_lpd_listener_accepts_our_lpd_client(gateway):
    outcome = forward(job_of(PJL_JOB, title="Quarterly report", user="alice", copies=2),
                      PrinterTarget("lpd", "127.0.0.1", gateway.ports["lpd"], queue="secure"))
    assert outcome.accepted and outcome.confirmed_by == "lpd-ack", outcome
    [job] = gateway.jobs()
    assert (job["owner"], job["title"], job["protocol"]) == ("alice", "Quarterly report", "lpd")
    assert job["sha256"] == hashlib.sha256(PJL_JOB).hexdigest()
    assert job["copies_requested"] == 2  # two `l` lines for one data file


def test_the_gateways_raw_listener_confirms_our_raw_client_by_closing(gateway):
    outcome = forward(job_of(PJL_JOB), PrinterTarget("raw", "127.0.0.1", gateway.ports["raw"]))
    assert outcome.accepted and outcome.confirmed_by == "peer-close", outcome
    [job] = gateway.jobs()
    assert job["owner"] == "carol" and job["sha256"] == hashlib.sha256(PJL_JOB).hexdigest()
