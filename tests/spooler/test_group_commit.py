"""The group committer: one admission scope per group, and a failing scope is no outage."""
import contextlib
import threading
import time

from spooler.group_commit import GroupCommitter
from spooler.spool import SpoolStore


class ImmediateReactor:
    def callFromThread(self, function, *args):
        function(*args)


def small_writer(store, data=b"job"):
    writer = store.create()
    writer.write(data)
    writer.finish()
    return writer


def wait_for(results, count, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(results) < count:
        assert time.monotonic() < deadline, results
        time.sleep(0.01)


def run_group(tmp_path, scope, owners=("alice", "bob", "carol"), record_jobs=list):
    """A first unit, then ``owners`` committed as one group; ``record_jobs`` records them
    (by default: they are their own records)."""
    store = SpoolStore.open(tmp_path, max_job_size=1 << 20)
    store.attach_database(lambda name: None, set)
    release = threading.Event()
    admitted = []

    def recorded(records):
        release.wait(10)
        return record_jobs(records)

    committer = GroupCommitter(reactor=ImmediateReactor(), record_jobs=recorded, jobs_dir=store.jobs_dir,
                               admit=admitted.append, admission_scope=scope)
    results = []
    try:
        # The first unit holds the commit so the others form one group.
        committer.submit([(small_writer(store), lambda: "first")]).addBoth(results.append)
        time.sleep(0.2)
        for owner in owners:
            committer.submit([(small_writer(store), lambda owner=owner: owner)]).addBoth(results.append)
        time.sleep(0.2)
        release.set()
        wait_for(results, 1 + len(owners))
    finally:
        committer.stop(10)
    return admitted, results


def test_a_group_is_admitted_inside_one_scope(tmp_path):
    scopes = []

    @contextlib.contextmanager
    def scope(records):
        scopes.append(sorted(records))
        yield

    admitted, results = run_group(tmp_path, scope)
    assert scopes == [["first"], ["alice", "bob", "carol"]]
    assert admitted == ["first", "alice", "bob", "carol"]
    assert sorted(job for jobs in results for job in jobs) == ["alice", "bob", "carol", "first"]


def test_a_scope_that_fails_to_open_still_admits_each_job(tmp_path):
    def scope(records):
        raise ConnectionError("database away for a moment")

    admitted, results = run_group(tmp_path, scope)
    assert admitted == ["first", "alice", "bob", "carol"]
    assert all(isinstance(jobs, list) for jobs in results)


def test_a_groups_acknowledgements_reach_the_reactor_in_one_call(tmp_path):
    calls = []

    class CountingReactor(ImmediateReactor):
        def callFromThread(self, function, *args):
            calls.append(function)
            function(*args)

    store = SpoolStore.open(tmp_path, max_job_size=1 << 20)
    store.attach_database(lambda name: None, set)
    release = threading.Event()

    def record_jobs(records):
        release.wait(10)
        return list(records)

    def refuse(record):
        if record == "refused":
            raise ValueError("no")

    committer = GroupCommitter(reactor=CountingReactor(), record_jobs=record_jobs, jobs_dir=store.jobs_dir,
                               admit=refuse)
    results = []
    try:
        committer.submit([(small_writer(store), lambda: "first")]).addBoth(results.append)
        time.sleep(0.2)
        for name in ("a", "b", "refused", "c"):
            committer.submit([(small_writer(store), lambda name=name: name)]).addBoth(results.append)
        time.sleep(0.2)
        release.set()
        wait_for(results, 5)
    finally:
        committer.stop(10)
    assert results[0] == ["first"]
    assert sorted(r[0] for r in results if isinstance(r, list))[:3] == ["a", "b", "c"]
    assert [str(r.value) for r in results if not isinstance(r, list)] == ["no"]
    # first group: one call; second group: one for the refusal, one for the three kept
    assert len(calls) == 3
    assert committer.idle


def test_every_job_is_committed_once_however_the_pool_threads_race(tmp_path):
    store = SpoolStore.open(tmp_path, max_job_size=1 << 20)
    store.attach_database(lambda name: None, set)
    recorded, threads_seen, overlaps = [], set(), []
    guard = threading.Lock()
    active = [0]

    def record_jobs(records):
        with guard:  # one commit at a time is the committer's promise: check it
            active[0] += 1
            if active[0] > 1:
                overlaps.append(active[0])
            threads_seen.add(threading.current_thread().name)
            recorded.extend(records)
        time.sleep(0.0005)
        with guard:
            active[0] -= 1
        return list(records)

    committer = GroupCommitter(reactor=ImmediateReactor(), record_jobs=record_jobs, jobs_dir=store.jobs_dir)
    results = []
    try:
        for n in range(600):
            committer.submit([(small_writer(store), lambda n=n: n)]).addBoth(results.append)
            if n % 50 == 0:
                time.sleep(0.01)
        wait_for(results, 600)
    finally:
        committer.stop(10)
    assert overlaps == []
    assert sorted(recorded) == list(range(600))
    assert sorted(r[0] for r in results) == list(range(600))
    assert committer.groups < 600  # some were grouped
    assert all(name.startswith("printgate-fsync-") for name in threads_seen)
    assert committer.idle


def test_with_sync_commits_no_job_is_acknowledged_before_its_commit_is_durable(tmp_path):
    store = SpoolStore.open(tmp_path, max_job_size=1 << 20)
    store.attach_database(lambda name: None, set)
    durable = threading.Event()
    syncs = []

    def sync_commits():
        durable.wait(10)
        syncs.append(threading.current_thread().name)

    committer = GroupCommitter(reactor=ImmediateReactor(), record_jobs=list, jobs_dir=store.jobs_dir,
                               sync_commits=sync_commits)
    results = []
    try:
        for name in ("a", "b", "c"):
            committer.submit([(small_writer(store), lambda name=name: name)]).addBoth(results.append)
        time.sleep(0.3)
        assert results == []
        durable.set()
        wait_for(results, 3)
    finally:
        committer.stop(10)
    assert sorted(r[0] for r in results) == ["a", "b", "c"]
    assert 1 <= len(syncs) <= 3
    assert committer.idle


def test_a_commit_that_cannot_be_made_durable_is_taken_back_and_its_senders_told(tmp_path):
    from spooler.errors import SpoolWriteError

    store = SpoolStore.open(tmp_path, max_job_size=1 << 20)
    store.attach_database(lambda name: None, set)
    taken_back = []

    def sync_commits():
        raise OSError(5, "Input/output error")

    committer = GroupCommitter(reactor=ImmediateReactor(), record_jobs=list, jobs_dir=store.jobs_dir,
                               sync_commits=sync_commits, unrecord=taken_back.extend)
    results = []
    try:
        committer.submit([(small_writer(store), lambda: "lost")]).addBoth(results.append)
        wait_for(results, 1)
    finally:
        committer.stop(10)
    assert taken_back == ["lost"]
    assert results[0].check(SpoolWriteError)
    assert "Input/output error" in str(results[0].value)


def test_quick_units_arriving_together_are_recorded_by_the_committers_thread(tmp_path):
    store = SpoolStore.open(tmp_path, max_job_size=1 << 20)
    store.attach_database(lambda name: None, set)
    release = threading.Event()
    where = {}

    def record_jobs(records):
        release.wait(10)
        return list(records)

    def made_by(name):
        def make_record():
            where[name] = threading.current_thread().name
            return name
        return make_record

    committer = GroupCommitter(reactor=ImmediateReactor(), record_jobs=record_jobs, jobs_dir=store.jobs_dir)
    results = []
    try:
        # Alone, a quick unit takes a pool thread (as fast when idle); while it is under
        # way, the next ones go to the committer's thread.
        committer.submit([(small_writer(store), made_by("alone"))], quick=True).addBoth(results.append)
        time.sleep(0.2)
        for name in ("x", "y"):
            committer.submit([(small_writer(store), made_by(name))], quick=True).addBoth(results.append)
        committer.submit([(small_writer(store), made_by("slow"))]).addBoth(results.append)
        time.sleep(0.2)
        release.set()
        wait_for(results, 4)
    finally:
        committer.stop(10)
    assert where["alone"].startswith("printgate-fsync-")
    assert where["x"] == where["y"] == "printgate-commit"
    assert where["slow"].startswith("printgate-fsync-")
    assert committer.idle


def test_stop_settles_every_quick_unit_and_every_commit_waiting_for_its_sync(tmp_path):
    store = SpoolStore.open(tmp_path, max_job_size=1 << 20)
    store.attach_database(lambda name: None, set)

    def sync_commits():
        time.sleep(0.002)

    committer = GroupCommitter(reactor=ImmediateReactor(), record_jobs=list, jobs_dir=store.jobs_dir,
                               sync_commits=sync_commits)
    results = []
    for n in range(300):
        committer.submit([(small_writer(store), lambda n=n: n)], quick=True).addBoth(results.append)
    committer.stop(10)
    assert sorted(r[0] for r in results) == list(range(300))
    assert committer.idle


def test_a_unit_that_cannot_be_recorded_is_refused_alone_not_with_its_group(tmp_path):
    transactions = []

    def record_jobs(records):
        transactions.append(list(records))
        if "poison" in records:
            raise ValueError("this record cannot be written")
        return list(records)

    _, results = run_group(tmp_path, None, owners=("alice", "poison", "bob"), record_jobs=record_jobs)
    assert sorted(job for result in results if isinstance(result, list) for job in result) == ["alice", "bob", "first"]
    [failure] = [result for result in results if not isinstance(result, list)]
    assert failure.check(ValueError)
    assert ["alice", "poison", "bob"] in transactions  # tried together first
