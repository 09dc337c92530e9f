"""A real slapd for the directory tests: one with 5,000 people, groups (nested too) and
cards, shared by the tests that only read it, and small fresh ones for tests that change
entries with ldapmodify or stop the server."""
from __future__ import annotations

from dataclasses import replace

import pytest

from accounting.directory import Directory
from accounting.directory.settings import PRESETS
from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.slapd import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, DirectoryData, SlapdServer


@pytest.fixture(scope="session")
def authority(tmp_path_factory):
    return CertificateAuthority.create(tmp_path_factory.mktemp("ldap-ca"))


@pytest.fixture(scope="session")
def big_slapd(tmp_path_factory, authority):
    directory = tmp_path_factory.mktemp("slapd-5000")
    server = SlapdServer(directory, authority, name="big")
    server.start(DirectoryData(users=5000).write(directory / "data.ldif"))
    yield server
    server.stop()


@pytest.fixture
def make_slapd(tmp_path, authority):
    started = []

    def make(data: DirectoryData | None = None, *, name: str = "slapd", digest_md5: bool = False,
             kerberos=None) -> SlapdServer:
        server = SlapdServer(tmp_path, authority, name=name, digest_md5=digest_md5, kerberos=kerberos)
        data = data or DirectoryData(users=30)
        server.start(data.write(tmp_path / f"{name}.ldif"))
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def directory_settings(server, *, preset="openldap", **changes):
    settings = replace(PRESETS[preset], servers=(server.uri,), user_bases=(PEOPLE,), group_bases=(GROUPS,),
                       bind_dn=SERVICE_DN, ca_file=server.ca_file, timeout=5.0)
    return replace(settings, **changes)


def make_directory(core, settings, tmp_path=None):
    core.secrets.set(settings.password_secret, SERVICE_PASSWORD)
    return Directory(core.database, settings, users_store=core.users, secret_store=core.secrets,
                     staging_dir=tmp_path)


def user_count(core) -> int:
    return len(core.users.list_users())
