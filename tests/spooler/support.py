"""The real intake stack (spool, group committer, SQLite job store) without a reactor:
callbacks the committer's threads hand to the reactor are run by ``settle()``."""
from __future__ import annotations

import queue
import time
from dataclasses import dataclass

from twisted.internet.defer import fail, succeed

from accounting.database import Database, migrate, sqlite_url
from accounting.errors import LoginFailed
from gateway.end_job import end_job_now
from accounting.jobs import JobStore
from spooler.config import GatewayConfig, QueueConfig
from spooler.group_commit import GroupCommitter
from spooler.intake import IntakePipeline
from spooler.spool import SpoolStore


class ThreadHandoffReactor:
    def __init__(self):
        self.calls: queue.Queue = queue.Queue()

    def callFromThread(self, function, *args):
        self.calls.put((function, args))


@dataclass
class IntakeStack:
    config: GatewayConfig
    spool: SpoolStore
    jobs: JobStore
    committer: GroupCommitter
    intake: IntakePipeline
    reactor: ThreadHandoffReactor

    def settle(self, timeout: float = 10.0) -> None:
        """Run callbacks from the committer until it has nothing left to do."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                function, args = self.reactor.calls.get(timeout=0.05)
            except queue.Empty:
                if self.committer.idle and self.reactor.calls.empty():
                    return
                continue
            function(*args)
        raise AssertionError("the committer did not settle")

    def close(self):
        self.committer.stop(5)
        self.settle()
        self.jobs.db.dispose()


class FakeJobDesk:
    """A ``spooler.job_desk.JobDesk`` over the real job store and spool, answered
    synchronously; ending a job is the real use case (``end_job_now``)."""

    def __init__(self, jobs: JobStore, spool=None):
        self.jobs = jobs
        self.spool = spool

    def _done(self, function, *args, **kwargs):
        try:
            return succeed(function(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001
            return fail(exc)

    def get_job(self, job_id):
        return self._done(self.jobs.get_job, job_id)

    def list_jobs(self, *, queue=None, owner=None, states=("held",), limit=None, newest_first=False):
        return self._done(self.jobs.list_jobs, queue=queue, owner=owner, states=states, limit=limit,
                          newest_first=newest_first)

    def count_jobs(self, *, queue=None, states=("held",)):
        return self._done(self.jobs.count_jobs, queue=queue, states=states)

    def end_job(self, job_id, state, *, actor, reason=""):
        return self._done(end_job_now, self.jobs, self.spool, job_id, state, actor=actor, reason=reason)

    def verify_password(self, username, password, *, device):
        return fail(LoginFailed(username))


def make_stack(tmp_path, *, config: GatewayConfig | None = None, store_cls=SpoolStore) -> IntakeStack:
    config = config or GatewayConfig(data_dir=tmp_path, idle_timeout=60)
    spool = SpoolStore.open(tmp_path, max_job_size=config.max_job_size) if store_cls is SpoolStore else store_cls(tmp_path)
    database = Database(sqlite_url(tmp_path))
    migrate(database.writer)
    jobs = JobStore(database)
    jobs.ensure_queues(config.queues)
    reactor = ThreadHandoffReactor()
    committer = GroupCommitter(reactor=reactor, record_jobs=jobs.record_jobs, jobs_dir=spool.jobs_dir)
    intake = IntakePipeline(config=config, spool=spool, committer=committer)
    return IntakeStack(config, spool, jobs, committer, intake, reactor)


def config_with(**overrides) -> GatewayConfig:
    config = GatewayConfig()
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


__all__ = ["make_stack", "config_with", "FakeJobDesk", "QueueConfig"]
