"""The accounting service API that the spooler and the web side call.

Every method returns a Deferred and runs its database work in a thread pool, so the
reactor never waits on a query; results are plain dataclasses. Code already running off
the reactor thread (the spooler's group committer) may use the synchronous components
(``service.jobs``) directly.
"""
from __future__ import annotations

from twisted.internet.threads import deferToThreadPool

from accounting.database import Database, migrate
from accounting.jobs import JobStore


class AccountingService:
    def __init__(self, database: Database, *, reactor, threadpool):
        self.database = database
        self.jobs = JobStore(database)
        self._reactor = reactor
        self._pool = threadpool

    @classmethod
    def open(cls, url: str, *, reactor, threadpool, queues=()) -> "AccountingService":
        """Open the database, migrate it to the newest schema, and create ``queues``."""
        database = Database(url)
        migrate(database.writer)
        service = cls(database, reactor=reactor, threadpool=threadpool)
        service.jobs.ensure_queues(queues)
        return service

    def _run(self, function, *args, **kwargs):
        return deferToThreadPool(self._reactor, self._pool, function, *args, **kwargs)

    def get_job(self, job_id):
        return self._run(self.jobs.get_job, job_id)

    def list_jobs(self, queue=None, owner=None, states=("held",), limit=None, owners=None, newest_first=False):
        return self._run(self.jobs.list_jobs, queue=queue, owner=owner, owners=owners, states=states,
                         limit=limit, newest_first=newest_first)

    def count_jobs(self, queue=None, states=("held",)):
        return self._run(self.jobs.count_jobs, queue=queue, states=states)

    def change_job_state(self, job_id, state, *, actor, reason="", expect=None):
        return self._run(self.jobs.change_state, job_id, state, actor=actor, reason=reason, expect=expect)

    def record_jobs(self, new_jobs):
        return self._run(self.jobs.record_jobs, new_jobs)

    def close(self) -> None:
        self.database.dispose()
