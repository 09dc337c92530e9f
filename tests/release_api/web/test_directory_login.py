"""Logging in to the web pages with the directory password (an LDAP bind to a real
slapd), as at the panel; a wrong one gets the same answer as an unknown name."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from accounting.directory.settings import PRESETS
from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.slapd import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, DirectoryData, SlapdServer
from tests.fixtures.web import csrf_of, web_world

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("web-directory")
    authority = CertificateAuthority.create(tmp_path / "ca")
    server = SlapdServer(tmp_path, authority).start(DirectoryData(users=5, passwords=5).write(tmp_path / "d.ldif"))
    try:
        (tmp_path / "web").mkdir()
        with web_world(tmp_path / "web") as w:
            w.core.secrets.set("directory/bind", SERVICE_PASSWORD)
            w.core.attach_directory(replace(PRESETS["openldap"], servers=(server.uri,), user_bases=(PEOPLE,),
                                            group_bases=(GROUPS,), bind_dn=SERVICE_DN, ca_file=authority.ca_file),
                                    staging_dir=tmp_path)
            yield w
    finally:
        server.stop()


def log_in(world, username, password):
    http = world.browser_session()
    page = http.get(world.url + "/login")
    return http.post(world.url + "/login", data={"csrf": csrf_of(page.text), "username": username,
                                                 "password": password})


def test_a_directory_user_logs_in_with_the_directory_password(world):
    answer = log_in(world, "user00003", "password-user00003")
    assert answer.url == world.url + "/me/jobs"
    assert "User 3" in answer.text


def test_a_wrong_directory_password_gets_the_answer_of_an_unknown_name(world):
    wrong = log_in(world, "user00002", "not-the-password")
    unknown = log_in(world, "nobody-here", "not-the-password")
    injected = log_in(world, "*)(uid=*", "password-user00002")
    assert wrong.status_code == unknown.status_code == injected.status_code
    assert wrong.url == unknown.url == injected.url and "/me/" not in wrong.url
    def message(answer):
        return re.search(r'<p class="error" role="alert">(.*?)</p>', answer.text).group(1)
    assert message(wrong) == message(unknown) == message(injected)
