"""A document the analyzer found repeated N times (fact ``copy_length``, issue 14.2) is
forwarded once, the printer asked for the copies: real peers (``ippeveprinter``, the LPD
sink) receive one copy's bytes and copies = N x requested."""
import pytest

from spooler.forward import Forwarder, ForwardJob, PrinterTarget, RetryPolicy
from tests.fixtures.printer_sinks import LpdSink, run_with_reactor
from tests.release_api.release_peers import ippeveprinter

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ONE_COPY = (b"%!PS-Adobe-3.0\n%%Pages: 1\n%%EndComments\n%%Page: 1 1\n"
            b"/Helvetica findfont 20 scalefont setfont 72 700 moveto (one copy) show showpage\n%%EOF\n")


def repeated_job(repetitions: int, requested: int) -> ForwardJob:
    """What the release builds for such a job: the whole spooled file, one copy's length,
    copies = repetitions x requested (``gateway.release_job.forward_settings``)."""
    data = ONE_COPY * repetitions
    return ForwardJob(job_id="j1", open_chunks=lambda: iter([data[:50], data[50:]]), size=len(data), title="Minutes",
                      user="alice", copies=repetitions * requested, copy_length=len(ONE_COPY))


def forward(job, target):
    return run_with_reactor(lambda reactor: Forwarder(
        reactor, gateway_host="gw1", retry=RetryPolicy(max_attempts=2, initial_delay=0.05, deadline=30),
    ).forward(job, target))


def test_an_ipp_printer_gets_one_copy_and_is_asked_for_n_times_the_copies_requested(tmp_path):
    with ippeveprinter(tmp_path / "printer") as printer:
        outcome = forward(repeated_job(3, 2), PrinterTarget.from_endpoint("ipp", printer.endpoint))
        assert outcome.accepted
        [document] = printer.documents()
        [attributes] = printer.job_environments()
    assert document.read_bytes() == ONE_COPY
    assert attributes.get("IPP_COPIES") == "6"


def test_an_lpd_printer_gets_one_copy_and_one_print_line_per_copy():
    with LpdSink() as sink:
        outcome = forward(repeated_job(2, 2), PrinterTarget("lpd", "127.0.0.1", sink.port, queue="secure"))
        [received] = sink.wait_for_jobs(1)
    assert outcome.accepted and received.data == ONE_COPY
    assert received.control_lines.count(f"l{received.data_name}") == 4
