"""Password logins checked by an LDAP bind against a real slapd, through accounting's
login guard (the path of the panel and of IPP Basic over ipps://)."""
from __future__ import annotations

import pytest

from accounting.errors import LoginFailed, LoginLocked
from tests.accounting.directory.conftest import directory_settings, user_count
from tests.fixtures.slapd import SERVICE_PASSWORD, DirectoryData, person_dn

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def ldap_core(core, make_slapd, tmp_path):
    server = make_slapd(DirectoryData(users=30, passwords=5))
    core.secrets.set("directory/bind", SERVICE_PASSWORD)
    core.attach_directory(directory_settings(server), staging_dir=tmp_path)
    core.ldap_server = server
    return core


def test_a_directory_user_logs_in_with_their_directory_password_and_is_imported(ldap_core):
    user = ldap_core.verify_password("user00002", "password-user00002", device="mfp-1")
    assert (user.username, user.source, user.full_name) == ("user00002", "directory", "User 2")
    assert user.cards == ["0000100002"]
    assert [(a.actor, a.target) for a in ldap_core.audit.entries(action="user.add")] == [("directory", "user00002")]


def test_a_wrong_directory_password_fails(ldap_core):
    with pytest.raises(LoginFailed):
        ldap_core.verify_password("user00002", "password-user00003")


@pytest.mark.parametrize("username", ["*)(uid=*", "*", "user0000*", "*)(|(uid=*", "user00002)(uid=*"])
def test_an_ldap_injection_in_the_user_name_logs_no_one_in(ldap_core, username):
    for password in ("password-user00002", "*", ""):
        with pytest.raises(LoginFailed):
            ldap_core.verify_password(username, password)
    assert user_count(ldap_core) == 0


def test_an_empty_password_never_binds_anonymously(ldap_core):
    with pytest.raises(LoginFailed):
        ldap_core.verify_password("user00002", "")


def test_a_user_without_a_directory_entry_fails_like_a_wrong_password(ldap_core):
    with pytest.raises(LoginFailed):
        ldap_core.verify_password("nobody", "password-user00002")


def test_directory_failures_count_towards_the_same_lockout_as_local_logins(ldap_core):
    for _ in range(ldap_core.settings.max_login_failures):
        with pytest.raises(LoginFailed):
            ldap_core.verify_password("user00003", "wrong", device="mfp-1")
    with pytest.raises(LoginLocked):
        ldap_core.verify_password("user00003", "password-user00003", device="mfp-1")


def test_a_refusal_is_answered_from_memory_but_a_success_is_never_remembered(ldap_core):
    server = ldap_core.ldap_server
    with pytest.raises(LoginFailed):
        ldap_core.verify_password("user00004", "wrong")
    assert ldap_core.verify_password("user00004", "password-user00004").username == "user00004"
    server.modify(f"dn: {person_dn('user00004')}\nchangetype: modify\nreplace: userPassword\n"
                  "userPassword: changed-password\n")
    with pytest.raises(LoginFailed):
        ldap_core.verify_password("user00004", "password-user00004")
    server.kill()
    with pytest.raises(LoginFailed):
        ldap_core.verify_password("user00004", "wrong"), "answered from the failure cache, server down"


def test_a_login_while_the_directory_is_down_fails_without_counting_against_the_user(ldap_core):
    ldap_core.ldap_server.kill()
    for _ in range(ldap_core.settings.max_login_failures + 1):
        with pytest.raises(LoginFailed):
            ldap_core.verify_password("user00001", "password-user00001")
    assert [e.action for e in ldap_core.audit.entries(action="login.directory.unavailable")]


def test_a_local_user_with_a_local_password_is_still_checked_locally(ldap_core):
    ldap_core.users.add_user("localadmin")
    ldap_core.users.set_password("localadmin", "local-secret")
    assert ldap_core.verify_password("localadmin", "local-secret").username == "localadmin"


def test_a_user_disabled_at_the_gateway_cannot_log_in_with_the_directory_password(ldap_core):
    ldap_core.verify_password("user00005", "password-user00005")
    ldap_core.users.set_enabled("user00005", False)
    with pytest.raises(LoginFailed):
        ldap_core.verify_password("user00005", "password-user00005")


def test_the_user_name_is_matched_as_the_directory_matches_it(ldap_core):
    assert ldap_core.verify_password("USER00001", "password-user00001").username == "user00001"


@pytest.fixture
def digest_core(core, make_slapd, tmp_path):
    server = make_slapd(DirectoryData(users=30, passwords=5), digest_md5=True)
    core.secrets.set("directory/bind", SERVICE_PASSWORD)
    core.attach_directory(directory_settings(server, login_method="digest-md5"), staging_dir=tmp_path)
    return core


def test_a_password_is_checked_by_a_sasl_digest_md5_bind(digest_core):
    user = digest_core.verify_password("user00003", "password-user00003", device="mfp-1")
    assert (user.username, user.source, user.full_name) == ("user00003", "directory", "User 3")


def test_a_wrong_password_fails_a_sasl_digest_md5_bind(digest_core):
    with pytest.raises(LoginFailed):
        digest_core.verify_password("user00003", "password-user00004")
    with pytest.raises(LoginFailed):
        digest_core.verify_password("user00029", "password-user00029")  # no password in the directory


def test_digest_md5_is_refused_by_a_slapd_that_maps_no_sasl_name(ldap_core, tmp_path):
    from dataclasses import replace

    ldap_core.attach_directory(replace(ldap_core.directory.settings, login_method="digest-md5"), staging_dir=tmp_path)
    with pytest.raises(LoginFailed):
        ldap_core.verify_password("user00001", "password-user00001")
