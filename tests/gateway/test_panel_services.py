"""The accounting-backed ``PanelServices`` on a real (SQLite) accounting database and a
real spool store, with the forwarder's sender replaced by a recording one: no sockets,
no threads (database calls run inline through a synchronous pool)."""
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
from gateway.panel_services import (
    GatewayPanelServices, device_secret_name, encode_panel_credential, new_device_secret,
)
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
        self.fail_with = None
        self.hold: defer.Deferred | None = None

    def __call__(self, context, job, target):
        data = b"".join(job.open_chunks())
        self.sent.append((job.job_id, data, job.forced))
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
    services = GatewayPanelServices(accounting, spool, forwarder, reactor=reactor, threadpool=InlinePool())

    class World:
        pass

    w = World()
    w.core, w.spool, w.sender, w.services, w.database = core, spool, sender, services, database
    w.secrets = {}
    for name, color, duplex, price_list in (("mfp-colour", True, True, None), ("mfp-mono", False, False, "cheap")):
        secret = new_device_secret()
        core.secrets.set(device_secret_name(name), encode_panel_credential(secret, "800x480"))
        core.devices.add(name, color=color, duplex=duplex, protocol="lpd", endpoint="lpd://127.0.0.1:5515/floor3",
                         price_list=price_list, credential_secret=device_secret_name(name))
        w.secrets[name] = secret
    yield w
    database.dispose()


def hold(world, *, owner="alice", title="Budget", color_pages=2, changes=None) -> int:
    writer = world.spool.create()
    writer.write(DOCUMENT)
    writer.finish()
    writer.make_durable()
    job = NewJob(queue="secure", owner=owner, source_host="ws1", protocol="lpd", size=len(DOCUMENT),
                 sha256=hashlib.sha256(DOCUMENT).hexdigest(), spool_name=writer.name,
                 received_at=datetime.now(timezone.utc), title=title,
                 facts={"pdl": "postscript", "pages": 2, "copies": 1, "impressions": 2, "sheets": 2, "duplex": False,
                        "color_pages": color_pages, "mono_pages": 2 - color_pages, "media": ["A4"], "method": "scan"})
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


def test_it_is_the_panel_services_protocol(world):
    assert isinstance(world.services, PanelServices)


def test_a_registered_device_has_its_secret_and_description(world):
    assert result_of(world.services.device_secret("mfp-colour")) == world.secrets["mfp-colour"]
    described = device(world, "mfp-mono")
    assert (described.device_id, described.screen, described.color, described.duplex) == ("mfp-mono", "800x480",
                                                                                          False, False)


def test_an_unknown_or_revoked_device_has_no_secret(world):
    assert result_of(world.services.device_secret("mfp-ghost")) is None
    assert result_of(world.services.describe_device("../etc")) is None
    world.core.secrets.set(device_secret_name("mfp-colour"), "")
    assert result_of(world.services.device_secret("mfp-colour")) is None
    assert result_of(world.services.describe_device("mfp-colour")) is None


def test_a_card_logs_in_its_owner(world):
    user = alice(world)
    assert (user.username, user.display_name) == ("alice", "Alice Example")


def test_an_unknown_card_is_offered_for_linking_and_linking_needs_the_password(world):
    with pytest.raises(UnknownCard):
        result_of(world.services.authenticate_card("CAFE0001", device(world)))
    with pytest.raises(LoginFailed):
        result_of(world.services.verify_password("alice", "wrong", device(world)))
    user = result_of(world.services.verify_password("alice", "correct horse", device(world)))
    result_of(world.services.link_card("CAFE0001", user, device(world)))
    assert result_of(world.services.authenticate_card("cafe0001", device(world))).username == "alice"


def test_a_card_of_someone_else_cannot_be_linked(world):
    bob = PanelUser(str(world.core.users.get_user("bob").id), "bob", "bob")
    with pytest.raises(LoginFailed):
        result_of(world.services.link_card("04A1B2C3", bob, device(world)))


def test_the_pin_pad_takes_the_user_number_then_the_pin(world):
    number = world.core.users.get_user("alice").id
    assert result_of(world.services.authenticate_pin(f"{number}2468", device(world))).username == "alice"
    with pytest.raises(LoginFailed):
        result_of(world.services.authenticate_pin("2468", device(world)))
    with pytest.raises(LoginFailed):
        result_of(world.services.authenticate_pin(f"{number}1111", device(world)))


def test_five_wrong_pins_lock_the_user(world):
    number = world.core.users.get_user("alice").id
    for _ in range(5):
        with pytest.raises(LoginFailed):
            result_of(world.services.authenticate_pin(f"{number}0000", device(world)))
    with pytest.raises(LockedOut) as locked:
        result_of(world.services.authenticate_pin(f"{number}2468", device(world, "mfp-mono")))
    assert locked.value.retry_after > 0


def test_jobs_are_priced_for_the_device_they_would_print_on(world):
    job_id = hold(world, color_pages=2)
    [at_colour] = result_of(world.services.list_held_jobs(alice(world), device(world, "mfp-colour")))
    [at_mono] = result_of(world.services.list_held_jobs(alice(world), device(world, "mfp-mono")))
    assert at_colour.job_id == str(job_id) and at_colour.pages == 2 and at_colour.color
    assert at_colour.price_minor == 40  # 2 colour sides at 0.20 (the queue's list)
    assert at_mono.price_minor == 2  # the mono printer's own list, and as mono: 2 sides at 0.01
    assert at_mono.device_note == "Prints in mono here, priced as mono" and at_mono.printable_here


def test_forced_changes_are_listed_and_a_forced_duplex_job_is_marked_at_a_simplex_printer(world):
    hold(world, color_pages=0, changes={"duplex": True})
    [job] = result_of(world.services.list_held_jobs(alice(world), device(world, "mfp-mono")))
    assert [c.change for c in job.forced_changes] == ["duplex"]
    assert job.forced_changes[0].reason == "rule 'Save paper'"
    assert not job.printable_here and "two-sided" in job.device_note


def test_another_users_job_is_not_found(world):
    job_id = hold(world, owner="bob")
    assert result_of(world.services.list_held_jobs(alice(world), device(world))) == []
    with pytest.raises(JobNotFound):
        result_of(world.services.release([str(job_id)], device(world), alice(world)))


def test_a_release_forwards_the_spool_file_charges_once_and_removes_the_file(world):
    job_id = hold(world, color_pages=2, changes={"mono": True})
    [result] = result_of(world.services.release([str(job_id)], device(world), alice(world)))
    assert result.released
    [(sent_id, data, forced)] = world.sender.sent
    assert sent_id == str(job_id) and data == DOCUMENT and forced.mono and not forced.duplex
    job = world.core.jobs.get_job(job_id)
    assert job.state == "released" and job.charged_amount == 10  # forced mono: 2 mono sides at 0.05
    assert [e.amount for e in world.core.ledger.entries_for_job(job_id)] == [-10]
    assert not (world.spool.jobs_dir / job.spool_name).exists()


def test_a_failed_release_puts_the_job_back_on_hold_and_charges_nothing(world):
    job_id = hold(world)
    world.sender.fail_with = ConnectionLostMidway("closed after 512 bytes", bytes_sent=512)
    [result] = result_of(world.services.release([str(job_id)], device(world), alice(world)))
    assert not result.released
    assert result.message == "The printer stopped receiving the job part way through. Nothing was charged."
    job = world.core.jobs.get_job(job_id)
    assert job.state == "held" and job.reserved_amount is None
    assert world.core.ledger.entries_for_job(job_id) == []
    assert world.core.accounts.personal("alice").reserved == 0


def test_a_second_release_while_the_first_is_printing_sends_nothing(world):
    job_id = hold(world)
    world.sender.hold = defer.Deferred()
    first = world.services.release([str(job_id)], device(world), alice(world))
    second = world.services.release([str(job_id)], device(world, "mfp-mono"), alice(world))
    [refused] = result_of(second)
    assert not refused.released and refused.message == "This job is already being printed."
    world.sender.hold.callback(None)
    [printed] = result_of(first)
    assert printed.released and len(world.sender.sent) == 1
    assert len(world.core.ledger.entries_for_job(job_id)) == 1
    [again] = result_of(world.services.release([str(job_id)], device(world), alice(world)))
    assert not again.released and again.message == "This job was already printed."
    assert len(world.sender.sent) == 1


def test_delete_ends_the_job_and_removes_its_spool_file(world):
    job_id = hold(world)
    spool_name = world.core.jobs.get_job(job_id).spool_name
    deleted = result_of(world.services.delete([str(job_id)], alice(world)))
    assert deleted.deleted == (str(job_id),)
    assert world.core.jobs.get_job(job_id).state == "deleted"
    assert not (world.spool.jobs_dir / spool_name).exists()


def test_the_balance_is_the_personal_accounts(world):
    balance = result_of(world.services.balance(alice(world)))
    assert (balance.amount_minor, balance.currency) == (1000, "EUR")


def test_a_colour_job_released_at_a_mono_printer_is_charged_what_the_panel_showed(world):
    job_id = hold(world, color_pages=2)
    [listed] = result_of(world.services.list_held_jobs(alice(world), device(world, "mfp-mono")))
    job = world.core.start_release(job_id, "mfp-mono", "alice")
    assert job.reserved_amount == listed.price_minor == 2
    world.core.fail_release(job_id, "test over")
