"""SASL GSSAPI (Kerberos) binds of the service account, against slapd and a real MIT
Kerberos KDC on loopback (``tests.fixtures.kdc``): the gateway's key comes from a client
keytab (``KRB5_CLIENT_KTNAME``), slapd's from its own, and slapd maps the principal to
the service account's entry."""
from __future__ import annotations

import pytest

from accounting.directory import Directory, SyncFailed
from tests.accounting.directory.conftest import directory_settings
from tests.fixtures.kdc import KerberosRealm
from tests.fixtures.slapd import DirectoryData

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def realm(tmp_path, monkeypatch):
    try:
        import gssapi  # noqa: F401 - ldap3's GSSAPI support is this package
    except ImportError:
        pytest.fail("the python package gssapi is missing: pip install -e '.[test]' (building it needs the "
                    "Debian package libkrb5-dev)", pytrace=False)
    (tmp_path / "krb").mkdir()
    started = KerberosRealm(tmp_path / "krb").start()
    for name, value in started.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KRB5CCNAME", f"MEMORY:printgate-test-{id(started)}")
    yield started
    started.stop()


def kerberos_directory(core, server, tmp_path):
    settings = directory_settings(server, bind_method="gssapi", bind_dn=None)
    return Directory(core.database, settings, users_store=core.users, secret_store=core.secrets,
                     staging_dir=tmp_path)


def test_the_service_account_binds_by_sasl_gssapi_with_the_key_in_its_keytab(core, make_slapd, realm, tmp_path,
                                                                             monkeypatch):
    server = make_slapd(DirectoryData(users=20), kerberos=realm)
    monkeypatch.setenv("KRB5_CLIENT_KTNAME", str(realm.keytab("printgate")))
    summary = kerberos_directory(core, server, tmp_path).sync.run(full=True)
    assert (summary.added, summary.problems) == (20, [])


def test_without_a_kerberos_key_the_bind_fails_and_nothing_changes(core, make_slapd, realm, tmp_path, monkeypatch):
    server = make_slapd(DirectoryData(users=20), kerberos=realm)
    monkeypatch.setenv("KRB5_CLIENT_KTNAME", str(tmp_path / "no-such.keytab"))
    with pytest.raises(SyncFailed):
        kerberos_directory(core, server, tmp_path).sync.run(full=True)
    assert core.users.list_users() == []
