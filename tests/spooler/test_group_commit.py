"""The group committer acknowledges a job only when its record is committed and its file
is durable, and overlaps the two for files made ahead of time."""
import threading
import time
from types import SimpleNamespace

import pytest

from spooler.errors import SpoolWriteError
from spooler.group_commit import GroupCommitter
from spooler.spool import SpoolStore, SpoolWriter


class ImmediateReactor:
    def callFromThread(self, function, *args):
        function(*args)


class GatedWriter(SpoolWriter):
    """Its sync waits for a gate, then succeeds or fails."""

    gate: threading.Event
    fail = False

    def sync(self):
        assert self.gate.wait(10)
        if self.fail:
            self.discard()
            raise SpoolWriteError("disk went away", path=self.tmp_path)
        return super().sync()


@pytest.fixture
def store(tmp_path):
    store = SpoolStore.open(tmp_path, max_job_size=1 << 20)
    store.start_precreating(target=4)
    deadline = time.monotonic() + 10
    while len(list(store.jobs_dir.iterdir())) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield store
    store.stop_precreating()


def gated_writer(store, gate, *, fail=False):
    writer = GatedWriter(store, "ab" * 16)
    writer.gate, writer.fail = gate, fail
    writer.write(b"a small job")
    writer.finish()
    return writer


class Recorder:
    def __init__(self):
        self.recorded = threading.Event()
        self.forgotten = []

    def record_jobs(self, records):
        self.recorded.set()
        return [SimpleNamespace(id=n, owner=record) for n, record in enumerate(records, start=1)]

    def forget(self, jobs, reason):
        self.forgotten.append(([job.id for job in jobs], reason))


def outcome_of(deferred):
    results = []
    deferred.addBoth(results.append)
    return results


def test_the_record_is_committed_while_the_file_syncs_and_the_ack_waits_for_both(store):
    gate, recorder = threading.Event(), Recorder()
    committer = GroupCommitter(reactor=ImmediateReactor(), record_jobs=recorder.record_jobs,
                               jobs_dir=store.jobs_dir, forget=recorder.forget)
    try:
        writer = gated_writer(store, gate)
        results = outcome_of(committer.submit([(writer, lambda: "alice")]))
        assert recorder.recorded.wait(10), "the record should not wait for the sync"
        time.sleep(0.05)
        assert results == [] and not committer.idle  # not acknowledged before the sync
        gate.set()
        deadline = time.monotonic() + 10
        while not results:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        [jobs] = results
        assert [job.owner for job in jobs] == ["alice"]
        assert b"".join(store.read_chunks(writer.name)) == b"a small job"
        assert recorder.forgotten == []
    finally:
        committer.stop(10)


def test_a_sync_that_fails_after_the_record_ends_the_job_and_refuses_it(store):
    gate, recorder = threading.Event(), Recorder()
    committer = GroupCommitter(reactor=ImmediateReactor(), record_jobs=recorder.record_jobs,
                               jobs_dir=store.jobs_dir, forget=recorder.forget)
    try:
        writer = gated_writer(store, gate, fail=True)
        results = outcome_of(committer.submit([(writer, lambda: "bob")]))
        assert recorder.recorded.wait(10)
        gate.set()
        deadline = time.monotonic() + 10
        while not results:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        [failure] = results
        assert failure.check(SpoolWriteError)
        [(job_ids, reason)] = recorder.forgotten
        assert job_ids == [1] and "disk went away" in reason
        assert not store.path(writer.name).exists()
    finally:
        committer.stop(10)


def test_a_refused_job_is_removed_only_after_its_sync_ended(store):
    gate, recorder = threading.Event(), Recorder()

    def refuse(record):
        raise PermissionError("over quota")

    committer = GroupCommitter(reactor=ImmediateReactor(), record_jobs=recorder.record_jobs,
                               jobs_dir=store.jobs_dir, admit=refuse, forget=recorder.forget)
    try:
        writer = gated_writer(store, gate)
        results = outcome_of(committer.submit([(writer, lambda: "carol")]))
        time.sleep(0.1)
        assert results == []  # the file is still being synced
        gate.set()
        deadline = time.monotonic() + 10
        while not results:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert results[0].check(PermissionError)
        assert not recorder.recorded.is_set() and recorder.forgotten == []
        assert not store.path(writer.name).exists()
    finally:
        committer.stop(10)
