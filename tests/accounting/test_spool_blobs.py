"""Small jobs' encrypted bytes are recorded with the job and go with the change that ends
it, on both engines."""
import pytest

from accounting.errors import InvalidStateChange
from tests.accounting.conftest import new_job


def blob_job(core, data=b"\x00encrypted\xff" * 100, node="node-a", owner="alice"):
    job = new_job(owner)
    job.spool_blob, job.spool_node = data, node
    [held] = core.jobs.record_jobs([job])
    return held


@pytest.mark.parametrize("ending", ["deleted", "canceled", "expired"])
def test_the_blob_is_kept_with_the_job_and_removed_when_it_ends(core, ending):
    data = bytes(range(256)) * 40
    held = blob_job(core, data)
    other = blob_job(core, b"other", owner="bob")
    assert core.jobs.spool_blob(held.spool_name, "node-a") == data
    assert core.jobs.spool_blob(held.spool_name, "node-b") is None  # another node's key
    assert core.jobs.spool_blob_names("node-a") == {held.spool_name, other.spool_name}
    core.jobs.change_state(held.id, ending, actor="test")
    assert core.jobs.spool_blob(held.spool_name, "node-a") is None
    assert core.jobs.spool_blob_names("node-a") == {other.spool_name}


def test_releasing_and_aborting_keep_the_blob_and_releasing_done_removes_it(core):
    held = blob_job(core)
    core.jobs.change_state(held.id, "releasing", actor="test")
    core.jobs.change_state(held.id, "aborted", actor="test")
    assert core.jobs.spool_blob(held.spool_name, "node-a") is not None
    core.jobs.change_state(held.id, "held", actor="test")
    core.jobs.change_state(held.id, "releasing", actor="test")
    core.jobs.change_state(held.id, "released", actor="test")
    assert core.jobs.spool_blob(held.spool_name, "node-a") is None


def test_a_refused_change_keeps_the_blob(core):
    held = blob_job(core)
    with pytest.raises(InvalidStateChange):
        core.jobs.change_state(held.id, "released", actor="test")
    assert core.jobs.spool_blob(held.spool_name, "node-a") is not None


def test_a_job_without_a_blob_records_none(core):
    [held] = core.jobs.record_jobs([new_job()])
    assert core.jobs.spool_blob(held.spool_name, "") is None
