"""The release use case when the charge fails after the printer took the job: the job is
recorded as printed with its charge pending, is never offered (or sent) again, and is
charged exactly once when the database answers again — also across a restart."""
from __future__ import annotations

import json

import pytest
from sqlalchemy.exc import OperationalError

from gateway.release_job import CHARGE_PENDING, NOT_PRINTED, PRINTED, REFUSED, JobRelease
from gateway.release_journal import ReleaseJournal
from tests.gateway.release_world import InlinePool, alice, device, hold, result_of, world  # noqa: F401 (fixture)


class DatabaseDown:
    """Makes the named accounting calls fail as a lost database connection does."""

    def __init__(self, monkeypatch, target, *names):
        self.failures = 0
        for name in names:
            monkeypatch.setattr(target, name, self._failing(name))

    def _failing(self, name):
        def fail(*args, **kwargs):
            self.failures += 1
            raise OperationalError(f"{name}", {}, Exception("server closed the connection unexpectedly"))
        return fail


def release(world, job_id, name="mfp-colour"):
    return result_of(world.releases.release(job_id, name, actor="alice", owner="alice"))


def charges(world, job_id):
    return [entry for entry in world.core.ledger.entries_for_job(job_id) if entry.kind == "charge"]


def test_a_charge_that_fails_after_the_printer_took_the_job_is_recorded_as_pending(world, monkeypatch):
    job_id = hold(world)
    with monkeypatch.context() as patch:
        down = DatabaseDown(patch, world.core.release, "charge_release")
        outcome = release(world, job_id)
    assert down.failures == 3
    assert outcome.result == CHARGE_PENDING and outcome.printed
    assert "charge" in outcome.message and "administrator" not in outcome.message
    job = world.core.jobs.get_job(job_id)
    assert job.state == "charge_pending" and job.reserved_amount == 40
    assert world.core.accounts.personal("alice").reserved == 40
    assert charges(world, job_id) == []
    audited = [a for a in world.core.audit.entries(action="release.charge_pending")]
    assert [a.target for a in audited] == [f"job {job_id}"]


def test_a_job_with_its_charge_pending_is_never_offered_or_sent_again(world, monkeypatch):
    job_id = hold(world)
    with monkeypatch.context() as patch:
        DatabaseDown(patch, world.core.release, "charge_release")
        release(world, job_id)
    assert result_of(world.services.list_held_jobs(alice(world), device(world))) == []
    again = release(world, job_id)
    assert not again.printed and again.message == "This job was already printed."
    assert len(world.sender.sent) == 1


def test_the_pending_charge_is_taken_once_when_the_database_answers_again(world, monkeypatch):
    job_id = hold(world)
    with monkeypatch.context() as patch:
        DatabaseDown(patch, world.core.release, "charge_release", "mark_charge_pending")
        outcome = release(world, job_id)
    assert outcome.result == CHARGE_PENDING
    assert world.core.jobs.get_job(job_id).state == "releasing"  # the database never heard: the journal did
    assert list(world.releases.journal.pending()) == [job_id]
    assert result_of(world.releases.settle_pending_charges()) == 1
    assert result_of(world.releases.settle_pending_charges()) == 0
    job = world.core.jobs.get_job(job_id)
    assert job.state == "released" and job.charged_amount == 40
    assert [entry.amount for entry in charges(world, job_id)] == [-40]
    assert world.core.accounts.personal("alice").reserved == 0
    assert world.releases.journal.pending() == {}
    assert not (world.spool.jobs_dir / job.spool_name).exists()
    assert len(world.sender.sent) == 1


def test_a_charge_whose_answer_was_lost_is_not_taken_twice(world, monkeypatch):
    job_id = hold(world)
    real = world.core.release.charge_release
    answers = []

    def charged_then_lost(*args):
        answers.append(real(*args))
        raise OperationalError("commit reply", {}, Exception("connection reset"))

    with monkeypatch.context() as patch:
        patch.setattr(world.core.release, "charge_release", charged_then_lost)
        outcome = release(world, job_id)
    assert outcome.result == CHARGE_PENDING
    result_of(world.releases.settle_pending_charges())
    assert [entry.amount for entry in charges(world, job_id)] == [-40]
    assert world.core.accounts.personal("alice").balance == 1000 - 40


def test_after_a_restart_a_job_the_journal_saw_accepted_is_charged_not_held_again(world, tmp_path):
    job_id = hold(world)
    started = world.core.start_release(job_id, "mfp-colour", "alice")
    world.releases.journal.accepted(job_id, "mfp-colour", f"release:{job_id}:x:mfp-colour")
    # The gateway dies here, before the charge. A new process starts on the same data:
    restarted = JobRelease(world.accounting, world.spool, world.releases.forwarder,
                           ReleaseJournal(world.releases.journal.path), reactor=world.releases.reactor,
                           threadpool=InlinePool(), charge_retry_delay=0)
    restarted.recover(world.core, world.spool.spool_names())
    assert world.core.jobs.get_job(job_id).state == "charge_pending"
    assert result_of(restarted.settle_pending_charges()) == 1
    assert world.core.jobs.get_job(job_id).state == "released"
    assert [entry.amount for entry in charges(world, job_id)] == [-started.reserved_amount]


def test_after_a_restart_a_release_no_printer_confirmed_is_held_again_uncharged(world):
    job_id = hold(world)
    world.core.start_release(job_id, "mfp-colour", "alice")
    world.releases.recover(world.core, world.spool.spool_names())
    job = world.core.jobs.get_job(job_id)
    assert job.state == "held" and job.reserved_amount is None
    assert charges(world, job_id) == []


def test_a_release_that_charges_says_printed(world):
    outcome = release(world, hold(world))
    assert outcome.result == PRINTED and outcome.charged == 40 and outcome.message == ""


@pytest.mark.parametrize("state", ["charge-pending", "charge_pending"])
def test_the_cli_lists_jobs_whose_charge_is_pending(world, monkeypatch, state, capsys):
    from gateway.cli import main

    job_id = hold(world)
    with monkeypatch.context() as patch:
        DatabaseDown(patch, world.core.release, "charge_release")
        release(world, job_id)
    capsys.readouterr()
    assert main(["--data-dir", str(world.data_dir), "jobs", "list", "--state", state, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(job["id"], job["state"]) for job in listed] == [(job_id, "charge_pending")]


class RecordingObserver:
    """A ``ReleaseObserver`` that writes down what it was told."""

    def __init__(self):
        self.told = []

    def release_failed(self, job, device, reason):
        self.told.append(("release_failed", job.id, device, reason))

    def printed(self, job):
        self.told.append(("printed", job.id, job.account_id))


@pytest.fixture
def observer(world):
    world.releases.observer = RecordingObserver()
    return world.releases.observer


def test_the_observer_is_told_a_job_printed_and_charged_with_the_account_it_was_charged_to(world, observer):
    job_id = hold(world)
    release(world, job_id)
    assert observer.told == [("printed", job_id, world.core.accounts.personal("alice").id)]


def test_the_observer_is_told_a_job_printed_when_its_charge_is_left_pending(world, observer, monkeypatch):
    job_id = hold(world)
    with monkeypatch.context() as patch:
        DatabaseDown(patch, world.core.release, "charge_release")
        assert release(world, job_id).result == CHARGE_PENDING
    assert observer.told == [("printed", job_id, world.core.accounts.personal("alice").id)]


def test_the_observer_is_told_a_release_failed_with_the_printers_sentence(world, observer):
    from spooler.forward.errors import PrinterUnreachable

    job_id = hold(world)
    world.sender.fail_with = PrinterUnreachable("connection refused")
    outcome = release(world, job_id)
    assert outcome.result == NOT_PRINTED
    [(kind, told_job, device_name, reason)] = observer.told
    assert (kind, told_job, device_name) == ("release_failed", job_id, "mfp-colour")
    assert reason and reason in outcome.message


def test_the_observer_hears_nothing_of_a_release_refused_before_printing(world, observer):
    world.core.users.add_user("carol", balance=0)
    job_id = hold(world, owner="carol")
    assert result_of(world.releases.release(job_id, "mfp-colour", actor="carol")).result == "refused"
    assert observer.told == []


def test_a_job_still_being_counted_is_not_released_until_its_facts_are_known(world):
    job_id = hold(world, analysis_pending=True)
    outcome = release(world, job_id)
    assert outcome.result == REFUSED and "still being counted" in outcome.message
    assert world.sender.sent == [] and charges(world, job_id) == []
    assert world.core.jobs.get_job(job_id).state == "held"
    facts = dict(world.core.jobs.get_job(job_id).facts)
    world.core.jobs.record_facts(job_id, facts)
    assert release(world, job_id).result == PRINTED and len(charges(world, job_id)) == 1
