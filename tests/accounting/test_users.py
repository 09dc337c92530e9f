"""Users, groups, cards, PINs, and CSV import (all rows or none)."""
import pytest

from accounting.errors import CsvImportError, DuplicateCard, DuplicateUser, UnknownUser
from tests.accounting.conftest import new_job


def test_a_user_is_added_with_groups_cards_and_a_hashed_pin(core):
    user = core.users.add_user("alice", full_name="Alice A", email="a@example.org", cost_center="CC1",
                               groups=("staff", "finance"), cards=("04a1b2",), pin="1234")
    assert (user.full_name, user.cost_center, user.groups, user.cards, user.has_pin) == (
        "Alice A", "CC1", ["finance", "staff"], ["04A1B2"], True)


def test_the_pin_is_never_stored_in_clear(core, database):
    core.users.add_user("alice", pin="987654")
    with database.reader.connect() as conn:
        stored = conn.exec_driver_sql("SELECT pin_hash FROM users").scalar()
    assert stored.startswith("$argon2id$") and "987654" not in stored
    assert not any("987654" in (a.new_value or "") for a in core.audit.entries())


def test_a_duplicate_username_is_refused(core):
    core.users.add_user("alice")
    with pytest.raises(DuplicateUser):
        core.users.add_user("alice")


def test_a_card_registered_to_someone_else_is_refused_naming_the_owner(core):
    core.users.add_user("alice", cards=("CARD-1",))
    core.users.add_user("bob")
    with pytest.raises(DuplicateCard) as caught:
        core.users.add_card("bob", "card-1")
    assert caught.value.owner == "alice"


def test_an_unknown_user_is_a_clear_error(core):
    with pytest.raises(UnknownUser):
        core.users.set_pin("ghost", "1234")
    with pytest.raises(UnknownUser):
        core.users.add_card("ghost", "123")


def test_a_pin_is_four_to_twelve_digits(core):
    core.users.add_user("alice")
    for bad in ("123", "abcd", "1" * 13):
        with pytest.raises(ValueError):
            core.users.set_pin("alice", bad)


def test_users_are_listed_with_their_balance_and_by_group(core):
    core.users.add_user("bob", balance=5, groups=("lab",))
    core.users.add_user("alice", balance=7)
    assert [(u.username, u.balance) for u in core.users.list_users()] == [("alice", 7), ("bob", 5)]
    assert [u.username for u in core.users.list_users(group="lab")] == ["bob"]


CSV = """username,full_name,email,cost_center,groups,cards,pin,balance
alice,Alice A,alice@example.org,CC1,staff;finance,C1;C2,1234,500
bob,Bob B,bob@example.org,CC2,staff,C3,,0
"""


def test_a_csv_file_imports_every_row(core):
    assert core.users.import_csv(CSV) == 2
    alice = core.users.get_user("alice")
    assert (alice.cards, alice.groups, alice.balance, alice.has_pin) == (["C1", "C2"], ["finance", "staff"], 500, True)


def test_importing_again_updates_and_adds_no_duplicates(core):
    core.users.import_csv(CSV)
    core.users.import_csv("username,full_name,cards\nalice,Alice Again,C1;C9\n")
    alice = core.users.get_user("alice")
    assert (alice.full_name, alice.cards, alice.balance) == ("Alice Again", ["C1", "C2", "C9"], 500)


@pytest.mark.parametrize("text, line, problem", [
    ("username,shoe_size\nalice,42\n", 1, "unknown: shoe_size"),
    ("full_name\nAlice\n", 1, "username"),
    ("username,email\nalice,a@x\nbob\n", 3, "expected 2 fields"),
    ("username,email\nalice,a@x\nbo b,b@x\n", 3, "invalid username"),
    ("username,pin\nalice,12\n", 2, "PIN"),
    ("username,balance\nalice,1.50\n", 2, "integer"),
    ("username,email\nalice,not-an-email\n", 2, "invalid email"),
    ("username\nalice\nalice\n", 3, "also on line 2"),
    ("username,cards\nalice,C1\nbob,C1\n", 3, "also on line 2"),
    ("", 1, "header"),
])
def test_a_malformed_row_is_reported_with_its_line_and_nothing_is_imported(core, text, line, problem):
    with pytest.raises(CsvImportError) as caught:
        core.users.import_csv(text)
    assert caught.value.line == line and problem in str(caught.value)
    assert core.users.list_users() == []


def test_a_card_already_owned_in_the_database_fails_the_whole_import(core):
    core.users.add_user("carol", cards=("C3",))
    with pytest.raises(CsvImportError) as caught:
        core.users.import_csv(CSV)
    assert caught.value.line == 3 and "carol" in str(caught.value)
    assert [u.username for u in core.users.list_users()] == ["carol"]
    assert core.accounts.list() == [core.accounts.personal("carol")]


def test_a_deleted_user_loses_cards_pin_password_and_groups_but_keeps_jobs_and_ledger(core):
    from accounting.errors import DeletedUser, LoginFailed

    core.users.add_user("alice", cards=("C1",), groups=("staff",), pin="2468", balance=300, email="a@x.org")
    core.users.set_password("alice", "correct horse")
    [job] = core.jobs.record_jobs([new_job("alice")])
    core.users.delete_user("alice", actor="cli")
    alice = core.users.get_user("alice")
    assert (alice.deleted, alice.enabled, alice.cards, alice.groups, alice.has_pin, alice.email) == (
        True, False, [], [], False, "")
    assert core.jobs.get_job(job.id).owner == "alice"
    assert [e.amount for e in core.ledger.entries("alice")] == [300]
    assert not core.accounts.personal("alice").enabled
    for login in (lambda: core.authenticate_card("C1"), lambda: core.authenticate_pin("alice", "2468"),
                  lambda: core.verify_password("alice", "correct horse")):
        with pytest.raises(LoginFailed):
            login()
    with pytest.raises(DeletedUser):
        core.users.set_enabled("alice", True)
    assert core.audit.entries(action="user.delete")[0].target == "alice"


def test_a_disabled_user_is_refused_at_intake_and_enabled_again(core):
    core.users.add_user("alice", balance=1000)
    core.users.set_enabled("alice", False)
    assert core.decide(new_job("alice")).action == "deny"
    core.users.set_enabled("alice", True)
    assert core.decide(new_job("alice")).action == "allow"


def test_removing_a_card_names_its_owner_and_an_unknown_card_is_an_error(core):
    from accounting.errors import UnknownCard

    core.users.add_user("alice", cards=("04ab", "05cd"))
    assert core.users.remove_card("04AB") == "alice"
    assert core.users.get_user("alice").cards == ["05CD"]
    with pytest.raises(UnknownCard):
        core.users.remove_card("04ab")


def test_a_password_shorter_than_eight_characters_is_refused(core):
    core.users.add_user("alice")
    with pytest.raises(ValueError, match="8 characters"):
        core.users.set_password("alice", "short")
