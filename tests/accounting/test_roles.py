"""Roles and the second factor, on both engines."""
from __future__ import annotations

import pyotp
import pytest

from accounting.errors import UnknownUser
from accounting.roles import UnknownRole
from accounting.second_factor import BadTotpCode, NotEnrolled


def test_a_granted_role_is_held_until_revoked_and_both_are_audited(core):
    core.users.add_user("ana")
    assert core.roles.grant("ana", "admin", actor="cli") is True
    assert core.roles.grant("ana", "admin", actor="cli") is False
    assert core.roles.roles_of("ana") == {"admin"}
    assert core.roles.holders() == {"ana": ["admin"]}
    assert core.roles.revoke("ana", "admin", actor="cli") is True
    assert core.roles.roles_of("ana") == frozenset()
    assert [e.action for e in core.audit.entries(action=None)][:2] == ["role.revoke", "role.grant"]


def test_only_known_roles_and_users_are_granted(core):
    core.users.add_user("ana")
    with pytest.raises(UnknownRole):
        core.roles.grant("ana", "root", actor="cli")
    with pytest.raises(UnknownUser):
        core.roles.grant("nobody", "admin", actor="cli")


def test_a_disabled_user_holds_no_role(core):
    core.users.add_user("ana")
    core.roles.grant("ana", "finance", actor="cli")
    core.users.set_enabled("ana", False, actor="cli")
    assert core.roles.roles_of("ana") == frozenset()


def enrolled(core, clock):
    core.users.add_user("ana")
    factors = core.second_factors
    factors.clock = clock
    enrolment = factors.begin_enrolment("ana")
    totp = pyotp.TOTP(enrolment.secret)
    codes = factors.confirm_enrolment("ana", enrolment.secret, totp.at(clock()), actor="ana")
    return factors, totp, codes


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


def test_enrolment_needs_a_right_code_and_gives_ten_recovery_codes(core):
    core.users.add_user("ana")
    enrolment = core.second_factors.begin_enrolment("ana")
    assert enrolment.uri.startswith("otpauth://totp/Printgate:ana?")
    with pytest.raises(BadTotpCode):
        core.second_factors.confirm_enrolment("ana", enrolment.secret, "000000", actor="ana")
    assert not core.second_factors.is_enrolled("ana")
    codes = core.second_factors.confirm_enrolment("ana", enrolment.secret, pyotp.TOTP(enrolment.secret).now(),
                                                  actor="ana")
    assert len(set(codes)) == 10 and core.second_factors.is_enrolled("ana")


def test_a_code_is_good_once_and_one_step_of_drift_is_allowed(core):
    clock = Clock()
    factors, totp, _ = enrolled(core, clock)
    clock.now += 30
    factors.verify("ana", totp.at(clock.now))
    with pytest.raises(BadTotpCode):
        factors.verify("ana", totp.at(clock.now))
    factors.verify("ana", totp.at(clock.now + 30))  # a phone 30 s ahead
    clock.now += 300
    with pytest.raises(BadTotpCode):
        factors.verify("ana", totp.at(clock.now - 120))


def test_a_recovery_code_works_once(core):
    factors, _, codes = enrolled(core, Clock())
    assert factors.use_recovery_code("ana", codes[3].upper()) == 9
    with pytest.raises(BadTotpCode):
        factors.use_recovery_code("ana", codes[3])


def test_a_reset_forgets_the_enrolment(core):
    factors, totp, _ = enrolled(core, Clock())
    factors.reset("ana", actor="cli")
    with pytest.raises(NotEnrolled):
        factors.verify("ana", "123456")


def test_the_secret_is_kept_encrypted_not_in_the_factor_table(core):
    factors, totp, _ = enrolled(core, Clock())
    user_id = core.users.get_user("ana").id
    assert f"totp/{user_id}" in core.secrets.names()
    assert core.secrets.reveal(f"totp/{user_id}") == totp.secret


def test_the_access_log_is_purged_with_the_rest_of_the_history(core):
    from datetime import timedelta

    from accounting.time import utcnow

    core.access_log.record("ana", "login", address="10.0.0.1", user_agent="x", at=utcnow() - timedelta(days=200))
    core.access_log.record("ana", "logout", address="10.0.0.1", user_agent="x")
    counts = core.purge_retention()
    assert counts["access_log"] == 1
    assert [e.event for e in core.lists.access().rows] == ["logout"]
