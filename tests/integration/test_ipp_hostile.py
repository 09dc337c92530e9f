"""Hostile IPP clients against a running gateway: a stated name does not reach another's
job, others' titles stay private, and compression bombs are refused in bounded time."""
from __future__ import annotations

import gzip
import socket
import zlib

import pytest

from spooler.ipp.codec import Attribute, Tag, encode_message
from spooler.ipp.constants import Operation, Status
from tests.fixtures.gateway import start_gateway
from tests.fixtures.ipp_client import HttpAnswer, attribute, ipp_call, ipp_message, print_job
from tests.fixtures.lpd_client import lpd_print

pytestmark = pytest.mark.integration
DOCUMENT = b"\x1bE hello\x0c\x1bE"
MALLORY = "127.0.0.2"  # another workstation, on loopback


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    process = start_gateway(tmp_path_factory.mktemp("ipp-hostile"), protocols=("ipp", "lpd"))
    yield process
    process.stop()


def job_id(reply) -> int:
    return attribute(reply, "job-id")[0]


def state_of(gateway, job):
    return next(j["state"] for j in gateway.jobs("--all") if j["id"] == job)


def call(gateway, operation, *attributes, user, source=None):
    port = gateway.ports["ipp"]
    return ipp_call(port, ipp_message(operation, port, *attributes, user=user), source=source)


def test_a_stated_name_from_another_address_cannot_cancel_someones_job(gateway):
    alice = job_id(print_job(gateway.ports["ipp"], DOCUMENT, title="alice's memo"))
    reply = call(gateway, Operation.CANCEL_JOB, Attribute.of("job-id", Tag.INTEGER, alice), user="alice",
                 source=MALLORY)
    assert reply.code == Status.CLIENT_ERROR_NOT_AUTHORIZED
    reply = call(gateway, Operation.CANCEL_MY_JOBS, user="alice", source=MALLORY)
    assert reply.code == Status.SUCCESSFUL_OK
    assert state_of(gateway, alice) == "held"
    reply = call(gateway, Operation.CANCEL_JOB, Attribute.of("job-id", Tag.INTEGER, alice), user="alice")
    assert reply.code == Status.SUCCESSFUL_OK  # her own workstation may
    assert state_of(gateway, alice) == "canceled"


def test_a_pin_job_needs_its_pin_even_from_its_owners_address(gateway):
    pin = Attribute.of("job-password", Tag.OCTET_STRING, b"4711")
    secret = job_id(print_job(gateway.ports["ipp"], DOCUMENT, title="pin job", operation=(pin,)))
    reply = call(gateway, Operation.CANCEL_JOB, Attribute.of("job-id", Tag.INTEGER, secret), user="alice")
    assert reply.code == Status.CLIENT_ERROR_NOT_AUTHORIZED
    assert state_of(gateway, secret) == "held"
    reply = call(gateway, Operation.CANCEL_JOB, Attribute.of("job-id", Tag.INTEGER, secret), pin, user="mallory",
                 source=MALLORY)
    assert reply.code == Status.SUCCESSFUL_OK  # the PIN is what acts on a PIN job
    assert state_of(gateway, secret) == "canceled"


def test_an_lpd_removal_needs_more_than_the_owners_name(gateway):
    lpd_print("127.0.0.1", gateway.ports["lpd"], DOCUMENT, user="carol", title="carol's", job=7)
    [carol] = [job for job in gateway.jobs() if job["owner"] == "carol"]
    for source, agent in ((MALLORY, "carol"), ("127.0.0.1", "root")):  # no admin hosts by default
        with socket.create_connection(("127.0.0.1", gateway.ports["lpd"]), timeout=30,
                                      source_address=(source, 0)) as sock:
            sock.sendall(b"\x05secure %s %d\n" % (agent.encode(), carol["id"]))
            while sock.recv(4096):
                pass
    assert state_of(gateway, carol["id"]) == "held"


def test_others_job_titles_are_private_in_get_jobs_and_the_lpd_listing(gateway):
    print_job(gateway.ports["ipp"], DOCUMENT, user="dave", title="dave's salary review")
    wanted = Attribute.of("requested-attributes", Tag.KEYWORD, "job-name", "job-originating-user-name")
    theirs = call(gateway, Operation.GET_JOBS, wanted, user="mallory", source=MALLORY)
    names = [attribute_of(group, "job-name") for group in theirs.groups_of(Tag.JOB)]
    assert names and all(name is None for name in names)
    mine = call(gateway, Operation.GET_JOBS, wanted, user="dave")
    assert "dave's salary review" in [attribute_of(group, "job-name") for group in mine.groups_of(Tag.JOB)]
    printer = call(gateway, Operation.GET_PRINTER_ATTRIBUTES, user="mallory")
    assert attribute(printer, "job-privacy-attributes", Tag.PRINTER) == ["job-name", "job-originating-user-name"]
    assert attribute(printer, "job-privacy-scope", Tag.PRINTER) == ["owner"]
    with socket.create_connection(("127.0.0.1", gateway.ports["lpd"]), timeout=30,
                                  source_address=(MALLORY, 0)) as sock:
        sock.sendall(b"\x04secure\n")
        listing = b""
        while chunk := sock.recv(4096):
            listing += chunk
    assert b"salary" not in listing and b"(private)" in listing


def attribute_of(group, name):
    found = group.get(name)
    return found.value if found is not None else None


BOMB = gzip.compress(b"\0" * (256 << 20), compresslevel=9)  # 256 MiB of zeros in about 260 KB


def test_a_gzip_document_bomb_is_refused_with_request_entity_too_large(gateway):
    before = len(gateway.jobs())
    port = gateway.ports["ipp"]
    message = ipp_message(Operation.PRINT_JOB, port, Attribute.of("compression", Tag.KEYWORD, "gzip"), user="erin")
    reply = ipp_call(port, message, BOMB)
    assert reply.code == Status.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE
    assert len(gateway.jobs()) == before
    assert "expands more than" in gateway.log()


def test_a_content_encoding_bomb_is_refused_with_413(gateway):
    before = len(gateway.jobs())
    port = gateway.ports["ipp"]
    body = gzip.compress(encode_message(ipp_message(Operation.PRINT_JOB, port, user="erin")) + b"\0" * (256 << 20),
                         compresslevel=9)
    with pytest.raises(HttpAnswer) as answer:
        ipp_call(port, None, body=body, headers={"Content-Encoding": "gzip"})
    assert answer.value.status == 413
    assert len(gateway.jobs()) == before


def test_an_ordinary_compressed_document_still_prints(gateway):
    port = gateway.ports["ipp"]
    document = b"%!PS-Adobe-3.0\n" + b"0 0 moveto (text) show\n" * 20_000
    message = ipp_message(Operation.PRINT_JOB, port, Attribute.of("compression", Tag.KEYWORD, "deflate"),
                          user="frank")
    assert ipp_call(port, message, zlib.compress(document)).code == Status.SUCCESSFUL_OK
    [job] = [job for job in gateway.jobs() if job["owner"] == "frank"]
    assert job["size"] == len(document)


def test_racing_cancels_of_one_job_are_each_answered_once_it_is_gone(gateway):
    from concurrent.futures import ThreadPoolExecutor

    target = job_id(print_job(gateway.ports["ipp"], DOCUMENT, user="gina", title="raced"))

    def cancel(_):
        return call(gateway, Operation.CANCEL_JOB, Attribute.of("job-id", Tag.INTEGER, target), user="gina").code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(cancel, range(8)))
    assert codes.count(Status.SUCCESSFUL_OK) == 1
    assert set(codes) <= {Status.SUCCESSFUL_OK, Status.CLIENT_ERROR_NOT_POSSIBLE}
    assert state_of(gateway, target) == "canceled"


def test_an_upload_dropped_midway_leaves_nothing_and_the_next_one_prints(gateway):
    port = gateway.ports["ipp"]
    body = encode_message(ipp_message(Operation.PRINT_JOB, port, user="hank")) + b"\x1bE" + b"x" * 100_000
    head = (f"POST /printers/secure HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ipp\r\n"
            f"Content-Length: {len(body) * 4}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + body)  # a quarter of what it announced, then gone
    print_job(port, DOCUMENT, user="hank", title="second try")
    assert [job["title"] for job in gateway.jobs() if job["owner"] == "hank"] == ["second try"]


def test_chunked_framing_broken_midway_through_a_document_is_answered_400(gateway):
    port = gateway.ports["ipp"]
    body = encode_message(ipp_message(Operation.PRINT_JOB, port, user="ivan")) + b"\x1bE" + b"y" * 5000
    wire = (b"POST /printers/secure HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ipp\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"XX0\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(wire)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert not [job for job in gateway.jobs() if job["owner"] == "ivan"]


def test_a_job_stated_under_a_name_no_user_may_have_is_refused_not_an_internal_error(gateway):
    reply = print_job(gateway.ports["ipp"], DOCUMENT, user="fuz{")
    assert reply.code == Status.CLIENT_ERROR_NOT_POSSIBLE, attribute(reply, "status-message", Tag.OPERATION)


def test_none_of_it_left_a_traceback_in_the_log(gateway):
    """Run last in this module: every hostile request above got its answer and one line."""
    assert "Traceback" not in gateway.log()
