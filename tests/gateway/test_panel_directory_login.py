"""The panel's password login with a directory (a real slapd): the panel services ask
accounting, which binds as the user; a card nobody has is linked after that login."""
from __future__ import annotations

from dataclasses import replace

import pytest

from accounting.directory.settings import PRESETS
from release_api.errors import LoginFailed, UnknownCard
from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.slapd import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, DirectoryData, SlapdServer
from tests.gateway.test_panel_services import device, result_of, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def directory_world(world, tmp_path):  # noqa: F811
    authority = CertificateAuthority.create(tmp_path / "ca")
    server = SlapdServer(tmp_path, authority).start(DirectoryData(users=5, passwords=5).write(tmp_path / "d.ldif"))
    world.core.secrets.set("directory/bind", SERVICE_PASSWORD)
    world.core.attach_directory(replace(PRESETS["openldap"], servers=(server.uri,), user_bases=(PEOPLE,),
                                        group_bases=(GROUPS,), bind_dn=SERVICE_DN, ca_file=authority.ca_file),
                                staging_dir=tmp_path)
    yield world
    server.stop()


def test_a_directory_user_logs_in_at_the_panel_with_the_directory_password(directory_world):
    user = result_of(directory_world.services.verify_password("user00003", "password-user00003",
                                                             device(directory_world)))
    assert (user.username, user.display_name) == ("user00003", "User 3")


def test_a_wrong_directory_password_or_an_injected_name_fails_at_the_panel(directory_world):
    for name, password in (("user00003", "nope"), ("*)(uid=*", "password-user00003"), ("*", "*")):
        with pytest.raises(LoginFailed):
            result_of(directory_world.services.verify_password(name, password, device(directory_world)))


def test_a_local_user_with_a_local_password_still_logs_in(directory_world):
    assert result_of(directory_world.services.verify_password("alice", "correct horse",
                                                             device(directory_world))).username == "alice"


def test_an_unknown_card_is_linked_after_a_directory_login(directory_world):
    panel = device(directory_world)
    with pytest.raises(UnknownCard):
        result_of(directory_world.services.authenticate_card("CAFE0001", panel))
    user = result_of(directory_world.services.verify_password("user00004", "password-user00004", panel))
    result_of(directory_world.services.link_card("CAFE0001", user, panel))
    assert result_of(directory_world.services.authenticate_card("CAFE0001", panel)).username == "user00004"
