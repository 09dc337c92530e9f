"""job-password (PWG 5100.11, the PIN iOS sends): kept only as an Argon2id hash, checked
by Release-Job, wrong PINs braked per job."""
import pytest

from accounting.passwords import SecretHasher, fast_hasher
from spooler.ipp.codec import Tag
from spooler.ipp.constants import Operation, Status
from tests.spooler.ipp.test_protocol import (
    A, Gateway, attr, create_job, print_job, request, send_document,
)

PIN = A("job-password", Tag.OCTET_STRING, b"4711")


@pytest.fixture
def gw():
    gateway = Gateway()
    gateway.factory.service.hasher = SecretHasher(fast_hasher())
    return gateway


def pin_job(gw):
    reply = gw.call(print_job(PIN, A("job-password-encryption", Tag.KEYWORD, "none")), b"%PDF pin")
    assert reply.code == Status.SUCCESSFUL_OK
    return attr(reply, "job-id")[0]


def release(gw, job_id, *pin):
    return gw.call(request(Operation.RELEASE_JOB, A("job-id", Tag.INTEGER, job_id), *pin))


def test_the_pin_is_kept_only_as_an_argon2id_hash(gw):
    pin_job(gw)
    attributes = gw.intake.receivers[0].metadata.attributes
    assert attributes["job-password-hash"].startswith("$argon2id$")
    assert attributes["job-password-supplied"] is True
    assert b"4711" not in repr(attributes).encode() and "4711" not in repr(attributes)


def test_release_job_needs_the_right_pin(gw):
    job_id = pin_job(gw)
    assert release(gw, job_id).code == Status.CLIENT_ERROR_NOT_AUTHORIZED
    assert release(gw, job_id, A("job-password", Tag.OCTET_STRING, b"0000")).code \
        == Status.CLIENT_ERROR_NOT_AUTHORIZED
    assert release(gw, job_id, PIN).code == Status.SUCCESSFUL_OK


def test_five_wrong_pins_lock_the_job_even_for_the_right_one(gw):
    job_id = pin_job(gw)
    for guess in (b"0000", b"1111", b"2222", b"3333", b"4444"):
        release(gw, job_id, A("job-password", Tag.OCTET_STRING, guess))
    reply = release(gw, job_id, PIN)
    assert reply.code == Status.CLIENT_ERROR_NOT_AUTHORIZED
    assert "too many wrong PINs" in attr(reply, "status-message", Tag.OPERATION)[0]


def test_a_create_job_pin_is_hashed_before_the_answer_and_kept_hashed(gw):
    reply = gw.call(request(Operation.CREATE_JOB, PIN, A("job-name", Tag.NAME, "pin two-step")))
    job_id = attr(reply, "job-id")[0]
    pending = gw.factory.service.pending[job_id]
    assert "job-password" not in pending.template
    assert pending.template["job-password-hash"].startswith("$argon2id$")
    assert gw.call(send_document(job_id), b"%PDF").code == Status.SUCCESSFUL_OK
    assert gw.intake.receivers[0].metadata.attributes["job-password-hash"].startswith("$argon2id$")
    assert release(gw, job_id, PIN).code == Status.SUCCESSFUL_OK
