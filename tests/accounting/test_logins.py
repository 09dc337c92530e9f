"""Panel logins by card, PIN and password, with lockouts per user and per device."""
from datetime import timedelta

import pytest

from accounting.errors import LoginFailed, LoginLocked
from accounting.time import utcnow


@pytest.fixture
def alice(core):
    core.users.add_user("alice", cards=("C-77",), pin="4321")
    core.users.set_password("alice", "correct horse")
    return core


def test_a_registered_card_logs_its_owner_in(alice):
    assert alice.authenticate_card("c-77", device="mfp-1").username == "alice"


def test_an_unknown_card_fails(alice):
    with pytest.raises(LoginFailed):
        alice.authenticate_card("NOPE", device="mfp-1")


def test_the_right_pin_logs_in_by_username_or_id(alice):
    assert alice.authenticate_pin("alice", "4321").username == "alice"
    user_id = alice.users.get_user("alice").id
    assert alice.authenticate_pin(user_id, "4321").username == "alice"


def test_a_wrong_pin_or_unknown_user_fails_the_same_way(alice):
    with pytest.raises(LoginFailed) as wrong:
        alice.authenticate_pin("alice", "0000")
    with pytest.raises(LoginFailed) as unknown:
        alice.authenticate_pin("mallory", "4321")
    assert str(wrong.value) == str(unknown.value) == "login failed"


def test_a_local_password_is_verified(alice):
    assert alice.verify_password("alice", "correct horse").username == "alice"
    with pytest.raises(LoginFailed):
        alice.verify_password("alice", "wrong")


def test_a_disabled_user_cannot_log_in(alice):
    alice.users.set_enabled("alice", False)
    with pytest.raises(LoginFailed):
        alice.authenticate_card("C-77")


def test_five_wrong_pins_lock_the_user_at_that_source_even_with_the_right_pin(alice):
    for _ in range(5):
        with pytest.raises(LoginFailed):
            alice.authenticate_pin("alice", "0000", device="mfp-1")
    with pytest.raises(LoginLocked) as caught:
        alice.authenticate_pin("alice", "4321", device="mfp-1")
    assert caught.value.scope == "user-source"


def test_a_user_locked_at_one_source_still_logs_in_elsewhere_and_by_card(alice):
    for _ in range(6):
        with pytest.raises((LoginFailed, LoginLocked)):
            alice.verify_password("alice", "guess", device="ipp:203.0.113.9")
    assert alice.verify_password("alice", "correct horse", device="mfp-1").username == "alice"
    assert alice.authenticate_pin("alice", "4321", device="mfp-1").username == "alice"
    assert alice.authenticate_card("C-77", device="mfp-1").username == "alice"


def test_an_unknown_name_is_locked_exactly_like_a_real_one(alice):
    answers = {}
    for name in ("alice", "mallory"):
        seen = []
        for _ in range(7):
            try:
                alice.verify_password(name, "guess", device="mfp-1")
            except (LoginFailed, LoginLocked) as error:
                seen.append(type(error).__name__)
        answers[name] = seen
    assert answers["alice"] == answers["mallory"] == ["LoginFailed"] * 5 + ["LoginLocked"] * 2


def test_the_lock_ends_after_the_lockout(alice):
    now = utcnow()
    for _ in range(5):
        with pytest.raises(LoginFailed):
            alice.logins.authenticate_pin("alice", "0000", now=now)
    later = now + timedelta(minutes=6)
    assert alice.logins.authenticate_pin("alice", "4321", now=later).username == "alice"


def test_each_further_lock_lasts_twice_as_long_until_a_success(alice):
    now = utcnow()
    for _ in range(5):
        with pytest.raises(LoginFailed):
            alice.logins.verify_password("alice", "guess", device="ipp:x", now=now)
    now += timedelta(minutes=5, seconds=1)
    for _ in range(5):
        with pytest.raises(LoginFailed):
            alice.logins.verify_password("alice", "guess", device="ipp:x", now=now)
    with pytest.raises(LoginLocked) as second:
        alice.logins.verify_password("alice", "correct horse", device="ipp:x", now=now + timedelta(minutes=6))
    assert second.value.until - now == timedelta(minutes=10)
    now += timedelta(minutes=10, seconds=1)
    assert alice.logins.verify_password("alice", "correct horse", device="ipp:x", now=now).username == "alice"
    for _ in range(5):
        with pytest.raises(LoginFailed):
            alice.logins.verify_password("alice", "guess", device="ipp:x", now=now)
    with pytest.raises(LoginLocked) as after_success:
        alice.logins.verify_password("alice", "guess", device="ipp:x", now=now)
    assert after_success.value.until - now == timedelta(minutes=5)


def test_a_success_resets_the_user_counter(alice):
    for _ in range(4):
        with pytest.raises(LoginFailed):
            alice.authenticate_pin("alice", "0000")
    alice.authenticate_pin("alice", "4321")
    for _ in range(4):
        with pytest.raises(LoginFailed):
            alice.authenticate_pin("alice", "0000")
    assert alice.authenticate_pin("alice", "4321").username == "alice"


def test_a_source_guessing_across_many_names_is_locked_for_everyone_there(alice):
    for i in range(20):
        with pytest.raises(LoginFailed):
            alice.verify_password(f"user{i}", "guess", device="mfp-9")
    with pytest.raises(LoginLocked) as caught:
        alice.verify_password("alice", "correct horse", device="mfp-9")
    assert caught.value.scope == "source"
    assert alice.verify_password("alice", "correct horse", device="mfp-1").username == "alice"


def test_successes_reset_a_sources_count(alice):
    for _ in range(5):
        for i in range(4):
            with pytest.raises(LoginFailed):
                alice.verify_password(f"user{i}", "guess", device="mfp-9")
        assert alice.verify_password("alice", "correct horse", device="mfp-9").username == "alice"


def test_first_taps_of_new_cards_are_not_failures(alice):
    for i in range(25):
        with pytest.raises(LoginFailed):
            alice.authenticate_card(f"NEW{i}", device="mfp-9")
    assert alice.authenticate_pin("alice", "4321", device="mfp-9").username == "alice"
    assert alice.authenticate_card("C-77", device="mfp-9").username == "alice"


def test_a_source_presenting_very_many_unknown_cards_is_slowed(alice):
    for i in range(30):
        with pytest.raises(LoginFailed):
            alice.authenticate_card(f"GUESS{i}", device="mfp-9")
    with pytest.raises(LoginLocked) as caught:
        alice.authenticate_card("C-77", device="mfp-9")
    assert caught.value.scope == "cards"
    assert alice.authenticate_card("C-77", device="mfp-1").username == "alice"


def test_password_failures_never_lock_a_card(alice):
    for _ in range(25):
        with pytest.raises((LoginFailed, LoginLocked)):
            alice.verify_password("alice", "guess", device="mfp-1")
    assert alice.authenticate_card("C-77", device="mfp-1").username == "alice"


def test_every_attempt_is_audited_without_the_secret(alice):
    alice.authenticate_pin("alice", "4321", device="mfp-1")
    with pytest.raises(LoginFailed):
        alice.authenticate_pin("alice", "9999", device="mfp-1")
    entries = [e for e in alice.audit.entries() if e.action.startswith("login.")]
    assert [(e.action, e.actor, e.source) for e in entries] == [
        ("login.pin.fail", "alice", "mfp-1"), ("login.pin.ok", "alice", "mfp-1")]
    assert not any("9999" in str(e.new_value) or "4321" in str(e.new_value) for e in alice.audit.entries())


def test_unknown_users_and_missing_secrets_are_checked_at_the_real_cost(alice, monkeypatch):
    """Answering "no such user" (or "no password set") faster than a wrong password would
    tell an attacker which names exist: every failure verifies a hash of the real cost."""
    verified = []
    real_verify = alice.logins.hasher.verify
    monkeypatch.setattr(alice.logins.hasher, "verify",
                        lambda encoded, clear: verified.append(encoded) or real_verify(encoded, clear))
    real = alice.logins.hasher.hash("x").rsplit("$", 2)[0]  # $argon2id$v=..$m=..,t=..,p=..
    alice.users.add_user("bob")  # no password set
    for username in ("nobody", "bob", "alice"):
        with pytest.raises(LoginFailed):
            alice.logins.verify_password(username, "guess")
    assert len(verified) == 3
    assert all(encoded.rsplit("$", 2)[0] == real for encoded in verified)
