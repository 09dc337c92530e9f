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

The pool thread that readies a job commits, with whatever else is waiting, if no other
thread is committing; otherwise the committing thread takes it with its next group. One
commit runs at a time.

Most jobs need no pool thread: a "quick" unit (``submit(quick=True)``: its bytes still in
memory, its analysis only scanning, never qpdf or Ghostscript) goes to the committer's own
thread, which builds the records of everything waiting and commits it. A pool thread per
job meant a wake-up and several hand-offs of the GIL per job; on this kind of machine the
gateway is bound by the GIL, and 15-20% of its CPU went to switching threads (``perf``:
``finish_task_switch`` after futex waits, ``pthread_cond_signal`` from the GIL).

With ``sync_commits`` (SQLite), a group's commit is written without waiting for the disk
and a thread of its own (``printgate-commit-sync``) makes it durable with one fdatasync for
every group committed meanwhile, then fires the Deferreds; the next group is committed
during that fdatasync instead of after it. The two halves were measured together, with
fresh gateways taking turns: 8 RAW clients, +11% on average over 8 rounds (+21% in the
quietest run, CPU per job 0.57 -> 0.46 ms); IPP and LPD at 8 clients, and every protocol
at 1 client, unchanged. Either half alone gained nothing measurable.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from spooler.errors import SpoolWriteError
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
                 fsync_threads: int = 16, sync_commits=None, unrecord=None):
        """``record_jobs(list_of_NewJob) -> list_of_HeldJob`` runs in the committing
        thread, one call at a time; so does ``admit(new_job)``, which raises (e.g.
        ``JobRefused``) for a job that may not be kept — that job's whole unit is then
        refused and its files removed.
        ``admission_scope(records)``, a context manager, is entered around the admission
        of a whole group (e.g. to read the owners of all its jobs at once).
        ``sync_commits()``, when given, makes everything ``record_jobs`` has committed so
        far durable (``record_jobs`` then need not wait for the disk itself); when it
        fails, ``unrecord(held_jobs)`` takes back those jobs, whose senders are told
        they failed."""
        self._reactor = reactor
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
        self._quick_queue: queue.SimpleQueue = queue.SimpleQueue()
        self._quick_thread = threading.Thread(target=self._quick_worker, name="printgate-commit", daemon=True)
        self._quick_thread.start()
        self._sync_commits = sync_commits
        self._unrecord = unrecord
        self._sync_queue: queue.SimpleQueue = queue.SimpleQueue()
        self._sync_thread = None
        if sync_commits is not None:
            self._sync_thread = threading.Thread(target=self._sync_worker, name="printgate-commit-sync", daemon=True)
            self._sync_thread.start()
        self._lock = threading.Lock()
        self._committing = threading.Lock()
        self._outstanding = 0
        self.groups = 0
        self.committed = 0

    def submit(self, files, *, quick: bool = False) -> Deferred:
        """Commit ``files``, a list of ``(SpoolWriter, make_record)``; the Deferred fires
        with the list of recorded ``HeldJob`` once all are durable, or fails with none kept.
        ``quick``: the files are in memory and ``make_record`` only computes (it never
        waits for a disk or a program), so the committing thread may run it itself."""
        deferred = Deferred()
        with self._lock:
            busy = self._outstanding > 0
            self._outstanding += 1
        # With no other job under way a pool thread is just as quick (measured at one
        # client it was faster); the committer's thread is for jobs arriving together.
        quick = quick and busy
        (self._quick_queue if quick else self._durable_queue).put(_Pending(list(files), deferred))
        return deferred

    @property
    def busy(self) -> bool:
        """Some job is under way: a quick unit submitted now goes to the committer's
        thread (``submit``), so it is worth finding out whether a unit is quick."""
        with self._lock:
            return self._outstanding > 0

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
        self._quick_queue.put(_STOP)
        self._quick_thread.join(timeout)
        self._commit_waiting()  # nothing should be left; if a thread was stuck, do not lose it
        if self._sync_thread is not None:
            self._sync_queue.put(_STOP)  # after every group committed: it syncs those first
            self._sync_thread.join(timeout)

    def _quick_worker(self) -> None:
        """The committer's own thread: records of quick units, then the commit."""
        while True:
            items = [self._quick_queue.get()]
            while len(items) < self._max_group:
                try:
                    items.append(self._quick_queue.get_nowait())
                except queue.Empty:
                    break
            stopping = any(item is _STOP for item in items)
            try:
                for item in items:
                    if item is not _STOP:
                        self._make_durable(item)
                self._commit_waiting()
            except BaseException:  # noqa: BLE001 - the thread must outlive any one job
                log.failure("committing quick jobs failed unexpectedly")
            if stopping:
                return

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
        For a quick unit, the same in the committer's thread. True when the job waits
        for a commit."""
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
        except Exception as exc:  # noqa: BLE001 - the disk refused: nothing can be kept
            log.error("syncing the spool directory failed ({error}); {count} jobs are refused", error=exc,
                      count=len(group))
            self._refuse_all(group, exc)
            return
        try:
            held = self._record_jobs(records)
        except Exception as exc:  # noqa: BLE001
            if len(group) == 1:
                self._refuse_unrecorded(group[0], exc)
                return
            outcomes = self._record_each(group, exc)
        else:
            position, outcomes = 0, []
            for item in group:
                outcomes.append((item, held[position:position + len(item.files)]))
                position += len(item.files)
        if not outcomes:
            return
        self.groups += 1
        self.committed += sum(len(jobs) for _, jobs in outcomes)
        if self._sync_thread is None:
            self._settle_all(outcomes)
        elif self._ready.empty() and self._quick_queue.empty():
            # Nothing to commit next: waiting for the disk here holds up no one, and
            # spares the acknowledgement a hand-off to the sync thread.
            self._sync_then_settle(outcomes)
        else:
            self._sync_queue.put(outcomes)

    def _record_each(self, group: list[_Pending], error) -> list:
        """The group's transaction failed: record each unit in one of its own, so that a
        unit that cannot be recorded is refused alone, never its whole group."""
        log.warn("recording {count} jobs together failed ({error}); recording each on its own", count=len(group),
                 error=error)
        outcomes = []
        for item in group:
            try:
                outcomes.append((item, self._record_jobs(item.records)))
            except Exception as exc:  # noqa: BLE001
                self._refuse_unrecorded(item, exc)
        return outcomes

    def _refuse_unrecorded(self, item: _Pending, error) -> None:
        log.failure("recording {count} job(s) failed: refused, their spool bytes removed", count=len(item.files))
        self._remove(item)
        self._settle(item, error)

    def _refuse_all(self, group: list[_Pending], error) -> None:
        for item in group:
            self._remove(item)
            self._settle(item, error)

    def _sync_worker(self) -> None:
        """Make committed groups durable, as many at a time as have been committed, and
        only then let their senders know."""
        while True:
            batch = [self._sync_queue.get()]
            while True:
                try:
                    batch.append(self._sync_queue.get_nowait())
                except queue.Empty:
                    break
            stopping = any(outcomes is _STOP for outcomes in batch)
            outcomes = [outcome for group in batch if group is not _STOP for outcome in group]
            if outcomes:
                self._sync_then_settle(outcomes)
            if stopping:
                return

    def _sync_then_settle(self, outcomes) -> None:
        try:
            self._sync_commits()
        except Exception as exc:  # noqa: BLE001 - the senders hear of it, nothing is kept
            self._sync_failed(outcomes, exc)
        else:
            self._settle_all(outcomes)

    def _sync_failed(self, outcomes, exc) -> None:
        """The commit could not be made durable: nobody was told of these jobs yet, so
        they are taken back (their records and files) and their senders get the error."""
        held = [job for _, jobs in outcomes for job in jobs]
        log.critical("making {count} recorded jobs durable failed ({error}); they are taken back and their senders "
                     "told", count=len(held), error=exc)
        try:
            if self._unrecord is not None:
                self._unrecord(held)
        except Exception:  # noqa: BLE001
            log.failure("taking back jobs {job_ids} failed: they may show as held although their senders were told "
                        "they failed", job_ids=[getattr(job, "id", None) for job in held])
        error = SpoolWriteError(f"the job could not be made durable: {exc}")
        for item, _ in outcomes:
            self._remove(item)
        self._settle_all([(item, error) for item, _ in outcomes])

    def _settle(self, item: _Pending, outcome) -> None:
        self._settle_all([(item, outcome)])

    def _settle_all(self, outcomes) -> None:
        """Hand the outcomes to the reactor in one call: each hand-off costs the reactor
        a wake-up and a loop turn, and a group's jobs are done at the same moment."""
        self._reactor.callFromThread(_fire, [(item.deferred, outcome) for item, outcome in outcomes])
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
