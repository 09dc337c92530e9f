"""What survives a gateway restart (a new IppService over the same accounting), and what
is bounded in memory: Create-Job ids, client holds, waiting Create-Jobs."""
from spooler.ipp import operations
from spooler.ipp.codec import Tag
from spooler.ipp.constants import JobState, Operation, Status
from spooler.ipp.protocol import IppFactory
from tests.spooler.ipp.fakes import make_config
from tests.spooler.ipp.test_protocol import (  # noqa: F401 - gw is a fixture
    A, Gateway, attr, create_job, gw, held_job, request, send_document,
)


def restarted(gw: Gateway) -> Gateway:
    """The same accounting and clock, a new IPP service, started as the listener does."""
    gw.factory = IppFactory(intake=gw.intake, jobs=gw.desk, config=make_config(),
                            clock=gw.clock)
    gw.factory.doStart()
    return gw


def status_message(reply):
    return attr(reply, "status-message", Tag.OPERATION)[0]


def test_a_committed_create_job_keeps_its_job_id_across_a_restart(gw):
    job_id = attr(gw.call(create_job()), "job-id")[0]
    assert gw.call(send_document(job_id), b"%PDF two").code == Status.SUCCESSFUL_OK
    restarted(gw)
    reply = gw.call(request(Operation.GET_JOB_ATTRIBUTES, A("job-id", Tag.INTEGER, job_id)))
    assert reply.code == Status.SUCCESSFUL_OK
    assert attr(reply, "job-id") == [job_id]
    assert attr(reply, "job-state") == [JobState.PENDING_HELD]
    again = gw.call(send_document(job_id), b"%PDF again")
    assert again.code == Status.CLIENT_ERROR_NOT_POSSIBLE


def test_a_create_job_waiting_for_its_document_is_not_found_after_a_restart_and_says_why(gw):
    job_id = attr(gw.call(create_job()), "job-id")[0]
    restarted(gw)
    reply = gw.call(send_document(job_id), b"%PDF late")
    assert reply.code == Status.CLIENT_ERROR_NOT_FOUND
    assert "gateway restarts" in status_message(reply)
    assert gw.call(request(Operation.GET_JOB_ATTRIBUTES, A("job-id", Tag.INTEGER, job_id))).code \
        == Status.CLIENT_ERROR_NOT_FOUND
    assert gw.call(request(Operation.CANCEL_JOB, A("job-id", Tag.INTEGER, job_id))).code \
        == Status.CLIENT_ERROR_NOT_FOUND
    assert [r.metadata for r in gw.intake.receivers] == []


def test_a_hold_asked_for_at_submission_can_be_released_by_its_owner_after_a_restart(gw):
    job_id = held_job(gw, job=[A("job-hold-until", Tag.KEYWORD, "indefinite")])
    restarted(gw)
    reply = gw.call(request(Operation.RELEASE_JOB, A("job-id", Tag.INTEGER, job_id)))
    assert reply.code == Status.SUCCESSFUL_OK


def test_a_create_job_without_a_document_times_out_then_is_forgotten(gw):
    job_id = attr(gw.call(create_job()), "job-id")[0]
    gw.clock.advance(operations.MULTIPLE_OPERATION_TIMEOUT + 1)
    reply = gw.call(request(Operation.GET_JOB_ATTRIBUTES, A("job-id", Tag.INTEGER, job_id)))
    assert attr(reply, "job-state") == [JobState.ABORTED]
    assert gw.call(send_document(job_id), b"%PDF").code == Status.CLIENT_ERROR_NOT_POSSIBLE
    gw.clock.advance(operations.FORGET_AFTER + 1)
    assert gw.factory.service.pending == {}
    assert gw.call(send_document(job_id), b"%PDF").code == Status.CLIENT_ERROR_NOT_FOUND


def test_waiting_create_jobs_are_capped_per_client_address(gw, monkeypatch):
    monkeypatch.setattr(operations, "MAX_PENDING_PER_HOST", 3)
    codes = [gw.call(create_job()).code for _ in range(4)]
    assert codes == [Status.SUCCESSFUL_OK] * 3 + [Status.SERVER_ERROR_BUSY]


def test_ended_create_jobs_make_room_when_memory_is_full(gw, monkeypatch):
    monkeypatch.setattr(operations, "MAX_REMEMBERED", 4)
    monkeypatch.setattr(operations, "MAX_PENDING_PER_HOST", 100)
    for _ in range(4):
        job_id = attr(gw.call(create_job()), "job-id")[0]
        assert gw.call(request(Operation.CANCEL_JOB, A("job-id", Tag.INTEGER, job_id))).code \
            == Status.SUCCESSFUL_OK
    assert gw.call(create_job()).code == Status.SUCCESSFUL_OK
    assert len(gw.factory.service.pending) <= 4
