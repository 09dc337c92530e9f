"""A small world for the release-side use cases: a real (SQLite) accounting database, a
real spool store, the real use cases, and the forwarder's sender replaced by a recording
one — no sockets, no threads (database calls run inline through a synchronous pool)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from accounting.core import AccountingCore, AccountingSettings
from accounting.database import Database, migrate
from accounting.passwords import SecretHasher, fast_hasher
from accounting.pricing import PriceList
from accounting.records import NewJob
from accounting.service import AccountingService
from release_api.errors import JobNotFound, LockedOut, LoginFailed, UnknownCard
from gateway.end_job import JobEnding
from gateway.panel_services import GatewayPanelServices
from gateway.register_device import device_secret_name, register_device
from gateway.release_job import JobRelease
from gateway.release_journal import ReleaseJournal
from release_api.services import PanelServices, PanelUser
from spooler.forward import AttemptResult, Forwarder, RetryPolicy
from spooler.forward.errors import ConnectionLostMidway
from spooler.spool import SpoolStore

DOCUMENT = b"%!PS-Adobe-3.0\n%%Pages: 2\n" + b"% page data\n" * 1000 + b"%%EOF\n"


class InlineReactor(Clock):
    """A clock whose thread pool runs work at once: ``deferToThreadPool`` becomes inline."""

    def callFromThread(self, function, *args, **kwargs):
        function(*args, **kwargs)

    def getThreadPool(self):
        return InlinePool()


class InlinePool:
    def callInThreadWithCallback(self, on_result, function, *args, **kwargs):
        try:
            result = function(*args, **kwargs)
        except BaseException:
            on_result(False, Failure())
        else:
            on_result(True, result)


class RecordingSender:
    """Stands in for the LPD sender: reads the whole job, or fails, or waits."""

    def __init__(self):
        self.sent: list[tuple[str, bytes, object]] = []
        self.jobs: list = []  # the ForwardJobs, as sent
        self.fail_with = None
        self.hold: defer.Deferred | None = None

    def __call__(self, context, job, target):
        data = b"".join(job.chunks())
        self.sent.append((job.job_id, data, job.forced))
        self.jobs.append(job)
        if self.fail_with is not None:
            return defer.fail(self.fail_with)
        result = AttemptResult(len(data), hashlib.sha256(data).hexdigest(), "lpd-ack")
        if self.hold is not None:
            return self.hold.addCallback(lambda _: result)
        return defer.succeed(result)


@pytest.fixture
def world(tmp_path):
    reactor = InlineReactor()
    database = Database(f"sqlite:///{tmp_path / 'printgate.sqlite3'}")
    migrate(database.writer)
    core = AccountingCore(database, AccountingSettings(secrets_key_file=tmp_path / "secrets.key", rule_cache_seconds=0),
                          hasher=SecretHasher(fast_hasher()))
    accounting = AccountingService(database, reactor=reactor, threadpool=InlinePool(), core=core)
    accounting.jobs.ensure_queues(["secure"])
    core.prices.save(PriceList(name="queue", items={("*", False): 5_000, ("*", True): 20_000}, is_default=True))
    core.prices.save(PriceList(name="cheap", items={("*", False): 1_000, ("*", True): 4_000}))
    core.users.add_user("alice", full_name="Alice Example", cards=("04A1B2C3",), pin="2468", balance=1000)
    core.users.set_password("alice", "correct horse")
    core.users.add_user("bob", balance=1000)
    spool = SpoolStore.open(tmp_path / "data", max_job_size=1 << 30)
    sender = RecordingSender()
    forwarder = Forwarder(reactor, retry=RetryPolicy(max_attempts=1), senders={"lpd": sender},
                          run_blocking=defer.maybeDeferred)
    ending = JobEnding(accounting, spool)
    releases = JobRelease(accounting, spool, forwarder, ReleaseJournal(tmp_path / "release-journal"), reactor=reactor,
                          threadpool=InlinePool(), charge_retry_delay=0)
    services = GatewayPanelServices(accounting, releases, ending, reactor=reactor, threadpool=InlinePool())

    class World:
        pass

    w = World()
    w.core, w.spool, w.sender, w.services, w.database = core, spool, sender, services, database
    w.accounting, w.releases, w.data_dir = accounting, releases, tmp_path
    w.secrets = {}
    for name, color, duplex, price_list in (("mfp-colour", True, True, None), ("mfp-mono", False, False, "cheap")):
        registered = register_device(core, name, protocol="lpd", endpoint="lpd://127.0.0.1:5515/floor3", color=color,
                                     duplex=duplex, price_list=price_list, actor="test")
        w.secrets[name] = registered.secret
    yield w
    database.dispose()


def hold(world, *, owner="alice", title="Budget", color_pages=2, changes=None, document=DOCUMENT,
         facts: dict | None = None, analysis_pending=False, **attributes) -> int:
    """Record a held job of ``document`` (``facts`` override the analyzer's; ``attributes``
    are NewJob fields such as ``copies_requested`` or ``sides``)."""
    writer = world.spool.create()
    writer.write(document)
    writer.finish()
    writer.make_durable()
    job = NewJob(queue="secure", owner=owner, source_host="ws1", protocol="lpd", size=len(document),
                 sha256=hashlib.sha256(document).hexdigest(), spool_name=writer.name,
                 received_at=datetime.now(timezone.utc), title=title,
                 facts={"pdl": "postscript", "pages": 2, "copies": 1, "impressions": 2, "sheets": 2, "duplex": False,
                        "color_pages": color_pages, "mono_pages": 2 - color_pages, "media": ["A4"], "method": "scan",
                        **(facts or {})},
                 analysis_pending=analysis_pending, **attributes)
    job.decision = world.core.decide(job)
    if changes:
        job.decision.changes = dict(changes)
        job.decision.message = "rule 'Save paper'"
    [held] = world.core.jobs.record_jobs([job])
    return held.id


def result_of(d):
    results = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


def device(world, name="mfp-colour"):
    return result_of(world.services.describe_device(name))


def alice(world):
    return result_of(world.services.authenticate_card("04a1b2c3", device(world)))


