"""Group commit: make finished jobs durable and record them, many at a time.

One thread takes every job that finished receiving since it last looked, fsyncs each
spool file and renames it into place, fsyncs the spool directory once, and records all
the jobs in one database transaction. Only then is each job's Deferred fired, and only
then may a protocol send its positive acknowledgement. Under load the fixed costs (the
directory fsync, the database commit's fsync) are shared by the whole group.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from spooler.spool import fsync_directory

log = Logger()

_STOP = object()


@dataclass
class _Pending:
    """One unit of commit: the files of one job (LPD may send several), all or none."""

    files: list  # of (SpoolWriter, () -> accounting.records.NewJob)
    deferred: Deferred


class GroupCommitter:
    def __init__(self, *, reactor, record_jobs, jobs_dir, max_group: int = 256):
        """``record_jobs(list_of_NewJob) -> list_of_HeldJob`` runs in this thread."""
        self._reactor = reactor
        self._record_jobs = record_jobs
        self._jobs_dir = jobs_dir
        self._max_group = max_group
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="printgate-group-commit", daemon=True)
        self._thread.start()
        self.groups = 0
        self.committed = 0

    def submit(self, files) -> Deferred:
        """Commit ``files``, a list of ``(SpoolWriter, make_record)``; the Deferred fires
        with the list of recorded ``HeldJob`` once all are durable, or fails with none kept."""
        deferred = Deferred()
        self._queue.put(_Pending(list(files), deferred))
        return deferred

    def stop(self, timeout: float | None = None) -> None:
        """Finish what was submitted, then end the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            group = [self._queue.get()]
            while len(group) < self._max_group:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if _STOP in group:
                stopping = True
                group = [item for item in group if item is not _STOP]
            if group:
                self._commit(group)

    def _commit(self, group: list[_Pending]) -> None:
        durable: list[_Pending] = []
        for item in group:
            try:
                for writer, _ in item.files:
                    writer.make_durable()
                durable.append(item)
            except Exception as exc:  # noqa: BLE001 - handed to the waiting protocol
                self._remove(item)
                self._fail(item, exc)
        if not durable:
            return
        try:
            fsync_directory(self._jobs_dir)
            records = [make_record() for item in durable for _, make_record in item.files]
            held = self._record_jobs(records)
        except Exception as exc:  # noqa: BLE001
            log.failure("recording {count} jobs failed; their spool files are removed", count=len(records))
            for item in durable:
                self._remove(item)
                self._fail(item, exc)
            return
        self.groups += 1
        self.committed += len(held)
        position = 0
        for item in durable:
            jobs = held[position:position + len(item.files)]
            position += len(item.files)
            self._reactor.callFromThread(item.deferred.callback, jobs)

    @staticmethod
    def _remove(item: _Pending) -> None:
        for writer, _ in item.files:
            writer.discard()
            writer.store.remove(writer.name)

    def _fail(self, item: _Pending, exc: Exception) -> None:
        self._reactor.callFromThread(item.deferred.errback, exc)
