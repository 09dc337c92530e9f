"""Group commit: make finished jobs durable and record them, many at a time.

A job's spool file is fsynced and renamed into place by a pool of threads as soon as its
receive ends (fsyncs of different files proceed in parallel, as they do on disk). Jobs
whose files are durable wait for the next commit, which fsyncs the spool directory once
for everything waiting (if any of it is a file: small jobs' bytes travel with their
records, see ``spooler.spool``), records all those jobs in one database transaction, and
only then fires each job's Deferred: only then may a protocol send its positive
acknowledgement.
Under load the fixed costs (the directory fsync, the database commit's fsync) are shared
by the whole group.

There is no commit thread: the pool thread that readies a job commits, with whatever else
is waiting, if no other thread is committing; otherwise the committing thread takes it
with its next group. One commit runs at a time, as with a thread of its own, but a job
arriving at an idle gateway is not handed to another thread first: measured at one client,
that hand-off (a wake-up and the GIL) cost about 0.2 ms of a 2 ms acknowledgement.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from spooler.reactor_handoff import handoff_to_reactor
from spooler.spool import fsync_directory

log = Logger()

_STOP = object()


@dataclass
class _Pending:
    """One unit of commit: the files of one job (LPD may send several), all or none."""

    files: list  # of (SpoolWriter, () -> accounting.records.NewJob)
    deferred: Deferred
    records: list | None = None


class GroupCommitter:
    def __init__(self, *, reactor, record_jobs, jobs_dir, admit=None, admission_scope=None, max_group: int = 256,
                 fsync_threads: int = 16):
        """``record_jobs(list_of_NewJob) -> list_of_HeldJob`` runs in the committing
        thread, one call at a time; so does ``admit(new_job)``, which raises (e.g.
        ``JobRefused``) for a job that may not be kept — that job's whole unit is then
        refused and its files removed.
        ``admission_scope(records)``, a context manager, is entered around the admission
        of a whole group (e.g. to read the owners of all its jobs at once)."""
        self._to_reactor = handoff_to_reactor(reactor)
        self._record_jobs = record_jobs
        self._admit = admit
        self._admission_scope = admission_scope
        self._jobs_dir = jobs_dir
        self._max_group = max_group
        # Plain threads on a SimpleQueue rather than a ThreadPoolExecutor: submit() runs on
        # the reactor for every job, and the executor's futures and semaphores cost more
        # reactor time than the rest of the hand-off together.
        self._durable_queue: queue.SimpleQueue = queue.SimpleQueue()
        self._fsync_threads = [
            threading.Thread(target=self._durable_worker, name=f"printgate-fsync-{n}", daemon=True)
            for n in range(fsync_threads)
        ]
        for thread in self._fsync_threads:
            thread.start()
        self._ready: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._committing = threading.Lock()
        self._outstanding = 0
        self.groups = 0
        self.committed = 0

    def submit(self, files) -> Deferred:
        """Commit ``files``, a list of ``(SpoolWriter, make_record)``; the Deferred fires
        with the list of recorded ``HeldJob`` once all are durable, or fails with none kept."""
        deferred = Deferred()
        with self._lock:
            self._outstanding += 1
        self._durable_queue.put(_Pending(list(files), deferred))
        return deferred

    @property
    def idle(self) -> bool:
        """Nothing submitted is still waiting for its outcome."""
        with self._lock:
            return self._outstanding == 0

    def stop(self, timeout: float | None = None) -> None:
        """Finish what was submitted, then end the threads."""
        for _ in self._fsync_threads:
            self._durable_queue.put(_STOP)
        for thread in self._fsync_threads:
            thread.join(timeout)
        self._commit_waiting()  # nothing should be left; if a thread was stuck, do not lose it

    def _durable_worker(self) -> None:
        while True:
            item = self._durable_queue.get()
            if item is _STOP:
                return
            try:
                if self._make_durable(item):
                    self._commit_waiting()
            except BaseException:  # noqa: BLE001 - a worker must outlive any one job
                log.failure("making a job durable failed unexpectedly")

    def _make_durable(self, item: _Pending) -> bool:
        """In a pool thread: fsync and rename the files, and build their records (which
        finishes the page analysis, possibly in a subprocess) in parallel with others.
        True when the job waits for a commit."""
        try:
            for writer, _ in item.files:
                writer.make_durable()
            item.records = [make_record() for _, make_record in item.files]
        except Exception as exc:  # noqa: BLE001 - handed to the waiting protocol
            self._remove(item)
            self._settle(item, exc)
            return False
        self._ready.put(item)
        return True

    def _commit_waiting(self) -> None:
        """Commit what waits, group after group, unless another thread is committing:
        that one then takes it. It looks again after letting go, so a job readied just
        as it finished is not left behind."""
        while not self._ready.empty():
            if not self._committing.acquire(blocking=False):
                return
            try:
                while True:
                    group = []
                    while len(group) < self._max_group:
                        try:
                            group.append(self._ready.get_nowait())
                        except queue.Empty:
                            break
                    if not group:
                        break
                    self._commit(group)
            finally:
                self._committing.release()

    def _admitted(self, group: list[_Pending]) -> tuple[list[_Pending], list]:
        if self._admission_scope is None or self._admit is None:
            return self._admit_each(group)
        try:
            scope = self._admission_scope([record for item in group for record in item.records])
            scope.__enter__()
        except Exception:  # noqa: BLE001 - then each job is decided on its own
            log.failure("preparing the admission of {count} jobs failed", count=len(group))
            return self._admit_each(group)
        try:
            return self._admit_each(group)
        finally:
            scope.__exit__(None, None, None)

    def _admit_each(self, group: list[_Pending]) -> tuple[list[_Pending], list]:
        admitted, records = [], []
        for item in group:
            try:
                unit = item.records
                if self._admit is not None:
                    for record in unit:
                        self._admit(record)
            except Exception as exc:  # noqa: BLE001 - the refusal goes back to the sender
                self._remove(item)
                self._settle(item, exc)
                continue
            admitted.append(item)
            records.extend(unit)
        return admitted, records

    def _commit(self, group: list[_Pending]) -> None:
        group, records = self._admitted(group)
        if not group:
            return
        try:
            if any(writer.needs_directory_sync for item in group for writer, _ in item.files):
                fsync_directory(self._jobs_dir)
            held = self._record_jobs(records)
        except Exception as exc:  # noqa: BLE001
            log.failure("recording {count} jobs failed; their spool files are removed", count=len(group))
            for item in group:
                self._remove(item)
                self._settle(item, exc)
            return
        self.groups += 1
        self.committed += len(held)
        position, outcomes = 0, []
        for item in group:
            outcomes.append((item, held[position:position + len(item.files)]))
            position += len(item.files)
        self._settle_all(outcomes)

    def _settle(self, item: _Pending, outcome) -> None:
        self._settle_all([(item, outcome)])

    def _settle_all(self, outcomes) -> None:
        """Hand the outcomes to the reactor in one call: each hand-off costs the reactor
        a wake-up and a loop turn, and a group's jobs are done at the same moment
        (``spooler.reactor_handoff`` says why not ``callFromThread``)."""
        self._to_reactor(_fire, [(item.deferred, outcome) for item, outcome in outcomes])
        with self._lock:
            self._outstanding -= len(outcomes)

    @staticmethod
    def _remove(item: _Pending) -> None:
        for writer, _ in item.files:
            writer.discard()
            writer.store.remove(writer.name)


def _fire(outcomes) -> None:
    """On the reactor: fire each job's Deferred with its outcome; one job's callbacks
    failing must not keep the others from theirs."""
    for deferred, outcome in outcomes:
        try:
            if isinstance(outcome, Exception):
                deferred.errback(outcome)
            else:
                deferred.callback(outcome)
        except Exception:  # noqa: BLE001
            log.failure("a job's acknowledgement failed")
