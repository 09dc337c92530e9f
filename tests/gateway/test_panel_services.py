"""The gateway's ``PanelServices`` (and through it the release and "end a job" use cases)
in the world of ``release_world``: no sockets, no threads."""
from __future__ import annotations

import pytest
from twisted.internet import defer

from release_api.errors import JobNotFound, LockedOut, LoginFailed, UnknownCard
from gateway.register_device import device_secret_name
from release_api.services import PanelServices, PanelUser
from spooler.forward.errors import ConnectionLostMidway
from tests.gateway.release_world import DOCUMENT, alice, device, hold, result_of, world  # noqa: F401 (fixture)


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
    number = str(world.core.users.get_user("alice").id)
    assert result_of(world.services.authenticate_pin(number, "2468", device(world))).username == "alice"
    with pytest.raises(LoginFailed):
        result_of(world.services.authenticate_pin("", "2468", device(world)))
    with pytest.raises(LoginFailed):
        result_of(world.services.authenticate_pin(number, "1111", device(world)))


@pytest.mark.parametrize("pin", ["1357", "24681357", "135792468024"])
def test_a_pin_of_any_length_users_set_pin_accepts_logs_in(world, pin):
    world.core.users.set_pin("alice", pin)
    number = str(world.core.users.get_user("alice").id)
    assert result_of(world.services.authenticate_pin(number, pin, device(world))).username == "alice"


def test_the_last_four_digits_of_a_longer_pin_are_not_the_pin(world):
    world.core.users.set_pin("alice", "24681357")
    number = str(world.core.users.get_user("alice").id)
    with pytest.raises(LoginFailed):
        result_of(world.services.authenticate_pin(number, "1357", device(world)))


def test_five_wrong_pins_lock_the_user_at_that_printer_only(world):
    number = str(world.core.users.get_user("alice").id)
    for _ in range(5):
        with pytest.raises(LoginFailed):
            result_of(world.services.authenticate_pin(number, "0000", device(world)))
    with pytest.raises(LockedOut) as locked:
        result_of(world.services.authenticate_pin(number, "2468", device(world)))
    assert locked.value.retry_after > 0
    assert result_of(world.services.authenticate_pin(number, "2468", device(world, "mfp-mono"))).username == "alice"


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
