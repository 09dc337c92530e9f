"""The ledger: append-only, idempotent charges, never overdrawn under concurrency."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from accounting.errors import InsufficientFunds, UnknownAccount


@pytest.fixture
def alice(core):
    core.users.add_user("alice", balance=1000)
    return core.accounts.personal("alice")


def test_a_new_user_has_a_personal_account_with_its_opening_balance_in_the_ledger(core, alice):
    assert alice.balance == 1000
    assert [(e.kind, e.amount, e.balance_after) for e in core.ledger.entries("alice")] == [("topup", 1000, 1000)]


def test_topup_adds_to_the_balance_and_records_balance_after(core, alice):
    entry = core.ledger.topup("alice", 250, actor="admin")
    assert (entry.amount, entry.balance_after) == (250, 1250)
    assert core.accounts.get("alice").balance == 1250


def test_a_charge_is_stored_negative(core, alice):
    entry = core.ledger.charge("alice", 300, key="k1", actor="release", reason="job")
    assert (entry.kind, entry.amount, entry.balance_after) == ("charge", -300, 700)


def test_a_charge_with_the_same_key_charges_once(core, alice):
    first = core.ledger.charge("alice", 300, key="same", actor="release")
    again = core.ledger.charge("alice", 300, key="same", actor="release")
    assert again.id == first.id
    assert core.accounts.get("alice").balance == 700


def test_a_charge_that_would_overdraw_a_restricted_account_is_refused_and_changes_nothing(core, alice):
    with pytest.raises(InsufficientFunds) as caught:
        core.ledger.charge("alice", 1001, key="big", actor="release")
    assert caught.value.available == 1000
    assert core.accounts.get("alice").balance == 1000
    assert len(core.ledger.entries("alice")) == 1


def test_the_overdraft_limit_extends_what_may_be_spent(core, alice):
    core.accounts.configure("alice", overdraft_limit=500)
    core.ledger.charge("alice", 1500, key="k", actor="release")
    assert core.accounts.get("alice").balance == -500
    with pytest.raises(InsufficientFunds):
        core.ledger.charge("alice", 1, key="k2", actor="release")


def test_an_unrestricted_account_may_go_below_zero(core, alice):
    core.accounts.configure("alice", restricted=False)
    assert core.ledger.charge("alice", 5000, key="k", actor="release").balance_after == -4000


def test_an_adjustment_needs_a_reason_and_is_audited(core, alice):
    with pytest.raises(ValueError):
        core.ledger.adjust("alice", -100, actor="admin", reason="")
    core.ledger.adjust("alice", -100, actor="admin", reason="paper jam credit reversed")
    assert core.accounts.get("alice").balance == 900
    assert any(a.action == "ledger.adjust" and a.target == "alice" for a in core.audit.entries())


def test_money_must_be_an_integer(core, alice):
    with pytest.raises(TypeError):
        core.ledger.charge("alice", 1.5, key="f", actor="x")


def test_an_unknown_account_is_a_clear_error(core):
    with pytest.raises(UnknownAccount):
        core.ledger.topup("nobody", 10, actor="admin")


def test_fifty_concurrent_charges_never_overdraw(core, alice):
    # 1000 available, 50 charges of 30: exactly 33 fit.
    barrier = threading.Barrier(50)

    def charge(i):
        barrier.wait()
        try:
            return core.ledger.charge("alice", 30, key=f"c{i}", actor="release")
        except InsufficientFunds:
            return None

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(charge, range(50)))
    assert sum(r is not None for r in results) == 33
    account = core.accounts.get("alice")
    assert account.balance == 10
    assert min(e.balance_after for e in core.ledger.entries("alice")) >= 0


def test_fifty_concurrent_retries_of_one_charge_charge_once(core, alice):
    barrier = threading.Barrier(50)

    def charge(_):
        barrier.wait()
        return core.ledger.charge("alice", 30, key="one-release", actor="release").id

    with ThreadPoolExecutor(50) as pool:
        ids = set(pool.map(charge, range(50)))
    assert len(ids) == 1
    assert core.accounts.get("alice").balance == 970


def test_ledger_rows_are_never_updated_balance_after_follows_the_sequence(core, alice):
    core.ledger.topup("alice", 5, actor="a")
    core.ledger.charge("alice", 7, key="x", actor="a")
    core.ledger.credit("alice", 2, kind="refund", actor="a")
    entries = core.ledger.entries("alice")
    running = 0
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running
