"""Ordinary IPP job attributes through a running gateway: a job carrying them is kept,
and the jobs after it are still listed, to everyone, across a restart."""
import pytest

from spooler.ipp.codec import Attribute, Collection, Range, Resolution, Tag
from spooler.ipp.constants import Operation, Status
from tests.fixtures.gateway import GatewayProcess, start_gateway
from tests.fixtures.ipp_client import attribute, ipp_call, ipp_message, print_job
from tests.fixtures.peers import free_port

pytestmark = pytest.mark.integration
DOCUMENT = b"\x1bE\x1b&l0O hello\x0c\x1bE"


@pytest.fixture
def gateway(tmp_path):
    process = start_gateway(tmp_path, protocols=("ipp",))
    yield process
    process.stop()


def test_a_job_with_page_ranges_and_a_resolution_is_kept_with_them(gateway):
    port = gateway.ports["ipp"]
    reply = print_job(port, DOCUMENT, Attribute.of("page-ranges", Tag.RANGE, Range(1, 2), Range(4, 4)),
                      Attribute.of("printer-resolution", Tag.RESOLUTION, Resolution(600, 600, 3)))
    assert reply.code == Status.SUCCESSFUL_OK, attribute(reply, "status-message", Tag.OPERATION)
    [job] = gateway.jobs()
    assert job["attributes"]["page-ranges"] == ["1-2", "4-4"]
    assert job["attributes"]["printer-resolution"] == "600dpi"


def test_get_jobs_with_every_attribute_answers_after_a_job_whose_media_key_is_an_integer(gateway):
    port = gateway.ports["ipp"]
    odd = Attribute.of("media-col", Tag.BEGIN_COLLECTION, Collection([Attribute.of("media-key", Tag.INTEGER, 5)]))
    assert print_job(port, DOCUMENT, odd, title="odd").code < 0x0400
    assert print_job(port, DOCUMENT, user="bob", title="plain").code == Status.SUCCESSFUL_OK

    def every_attribute_of_every_job():
        everything = Attribute.of("requested-attributes", Tag.KEYWORD, "all")
        reply = ipp_call(port, ipp_message(Operation.GET_JOBS, port, everything, user="bob"), timeout=30)
        assert reply.code == Status.SUCCESSFUL_OK
        return reply.groups_of(Tag.JOB)

    assert len(every_attribute_of_every_job()) == 2
    gateway.stop()
    restarted = GatewayProcess(data_dir=gateway.data_dir, ports={"ipp": port}).start()
    try:
        assert len(every_attribute_of_every_job()) == 2
    finally:
        restarted.stop()
