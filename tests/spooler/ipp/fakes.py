"""In-memory stand-ins for the intake pipeline and the application's job desk.

They keep the contracts the IPP code relies on: ``begin`` may raise, ``write`` takes bytes
as they arrive, ``commit`` fires with a ``HeldJob``, ``abort`` leaves nothing; the desk
(a ``spooler.job_desk.JobDesk``: ``tests/test_interfaces.py`` checks the signatures)
returns Deferreds of plain dataclasses, refuses impossible state changes, and forgets a
job's bytes when it ends (``forgotten``).
"""
from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timezone

from twisted.internet.defer import Deferred, fail, succeed

from accounting.errors import InvalidStateChange, JobNotFound, LoginFailed
from accounting.jobs import TRANSITIONS
from accounting.records import HeldJob, User
from spooler.config import GatewayConfig
from spooler.errors import JobTooLarge


class FakeReceiver:
    def __init__(self, intake, metadata):
        self.intake = intake
        self.metadata = metadata
        self.chunks: list[bytes] = []
        self.committing = False
        self.aborted: str | None = None
        self.commit_deferred: Deferred | None = None

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)

    def write(self, data: bytes) -> None:
        self.chunks.append(bytes(data))
        size = sum(map(len, self.chunks))
        if size > self.intake.max_job_size:
            raise JobTooLarge(size, self.intake.max_job_size)

    def commit(self):
        self.committing = True
        job = self.intake.desk.record(self.metadata, self.data)
        if self.intake.hold_commits:
            self.commit_deferred = Deferred()
            return self.commit_deferred.addCallback(lambda _: job)
        return succeed(job)

    def abort(self, reason: str = "") -> None:
        self.aborted = reason
        self.chunks = []


class FakeIntake:
    def __init__(self, desk, *, max_job_size: int = 1 << 30):
        self.desk = desk
        self.max_job_size = max_job_size
        self.receivers: list[FakeReceiver] = []
        self.refuse_with: Exception | None = None
        self.hold_commits = False
        self.accepting = True

    def begin(self, metadata):
        if self.refuse_with is not None:
            raise self.refuse_with
        receiver = FakeReceiver(self, metadata)
        self.receivers.append(receiver)
        return receiver


class FakeJobDesk:
    def __init__(self):
        self.jobs: dict[int, HeldJob] = {}
        self._ids = itertools.count(1)
        self.changes: list[tuple[int, str, str]] = []
        self.forgotten: list[int] = []  # jobs whose spool bytes were removed
        self.passwords: dict[str, str] = {}

    def record(self, meta, data: bytes) -> HeldJob:
        now = datetime.now(timezone.utc)
        job = HeldJob(
            id=next(self._ids), queue=meta.queue, owner=meta.user or f"unknown@{meta.host}",
            source_host=meta.host,
            protocol=meta.protocol, title=meta.title, client_job_ref=meta.client_job_ref,
            document_format=meta.document_format, size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), spool_name="0" * 32, state="held",
            state_reason="", received_at=now, updated_at=now, copies_requested=meta.copies,
            sides=meta.sides, color_mode=meta.color_mode, attributes=dict(meta.attributes))
        self.jobs[job.id] = job
        return job

    def get_job(self, job_id):
        job = self.jobs.get(job_id)
        return succeed(job) if job else fail(JobNotFound(job_id))

    def list_jobs(self, *, queue=None, owner=None, states=("held",), limit=None, newest_first=False):
        jobs = [j for j in self.jobs.values() if (queue is None or j.queue == queue)
                and (owner is None or j.owner == owner) and (not states or j.state in states)]
        jobs.sort(key=lambda j: j.id, reverse=newest_first)
        return succeed(jobs[:limit] if limit else jobs)

    def count_jobs(self, *, queue=None, states=("held",)):
        return self.list_jobs(queue=queue, states=states).addCallback(len)

    def end_job(self, job_id, state, *, actor, reason=""):
        job = self.jobs.get(job_id)
        if job is None:
            return fail(JobNotFound(job_id))
        if job.state != "held" or state not in TRANSITIONS[job.state]:
            return fail(InvalidStateChange(job_id, job.state, state))
        job.state = state
        job.state_reason = reason
        self.changes.append((job_id, state, actor))
        self.forgotten.append(job_id)
        return succeed(job)

    def verify_password(self, username, password, *, device):
        if self.passwords.get(username) == password:
            return succeed(User(id=1, username=username, full_name="", email="", cost_center="", enabled=True,
                                source="local", groups=[], cards=[], has_pin=False))
        return fail(LoginFailed(username, device))


def make_config(**overrides) -> GatewayConfig:
    config = GatewayConfig()
    for key, value in overrides.items():
        setattr(config, key, value)
    return config
