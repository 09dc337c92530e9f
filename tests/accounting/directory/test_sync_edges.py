"""Directory sync against hostile or unusual directories: referrals, missing
attributes, odd encodings, a huge group, TLS settings, and Active Directory's attributes
(on slapd with an AD-like schema: see tests/fixtures/slapd.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from accounting.directory import SyncFailed
from accounting.directory.settings import CardSource
from tests.accounting.directory.conftest import directory_settings, make_directory, user_count
from tests.fixtures.slapd import PEOPLE, ROOT_DN, DirectoryData, entry, group_dn, person_dn

pytestmark = pytest.mark.timeout(120)


def test_a_referral_in_the_directory_is_reported_and_not_followed(core, make_slapd, tmp_path):
    referral = entry(f"ou=elsewhere,{PEOPLE}", {"objectClass": ["referral", "extensibleObject"], "ou": "elsewhere",
                                                "ref": "ldap://127.0.0.1:9/ou=elsewhere,dc=example,dc=org"}, loaded=True)
    server = make_slapd(DirectoryData(users=10, extra=[referral]))
    summary = make_directory(core, directory_settings(server), tmp_path).sync.run(full=True)
    assert summary.added == 10
    assert any("referral to ldap://127.0.0.1:9/" in problem for problem in summary.problems)


def test_entries_missing_attributes_are_imported_with_what_they_have_or_skipped_without_a_name(
        core, make_slapd, tmp_path):
    bare = entry(person_dn("bare"), {"objectClass": "inetOrgPerson", "uid": "bare", "cn": "Bare", "sn": "B"},
                 loaded=True)
    nameless = entry(f"cn=No Name,{PEOPLE}", {"objectClass": "inetOrgPerson", "cn": "No Name", "sn": "N"}, loaded=True)
    server = make_slapd(DirectoryData(users=3, extra=[bare, nameless]))
    summary = make_directory(core, directory_settings(server), tmp_path).sync.run(full=True)
    assert summary.added == 4
    user = core.users.get_user("bare")
    assert (user.email, user.cards, user.cost_center) == ("", [], "")
    assert any("cn=No Name" in p and "no uid; skipped" in p for p in summary.problems)


def test_odd_encodings_are_normalized_or_reported_never_fatal(core, make_slapd, tmp_path):
    decomposed = "Jose\u0301 N\u0303un\u0303ez"
    people = [
        entry(person_dn("jose"), {"objectClass": ["inetOrgPerson", "printgateADUser"], "uid": "jose",
                                  "cn": decomposed, "sn": "N", "printgateNote": "Müller".encode("latin-1")}, loaded=True),
        entry(person_dn("zoë"), {"objectClass": "inetOrgPerson", "uid": "zoë", "cn": "Zoë", "sn": "Z"}, loaded=True),
        entry(person_dn("bin"), {"objectClass": ["inetOrgPerson", "printgateADUser"], "uid": "bin", "cn": "Bin",
                                 "sn": "B", "printgateCardUid": b"\x04\xa2\x3f\x11\x00\x9c"}, loaded=True),
    ]
    server = make_slapd(DirectoryData(users=0, extra=people))
    settings = directory_settings(server)
    settings = replace(settings, attributes=replace(
        settings.attributes, cost_center="printgateNote",
        cards=(CardSource("employeeNumber"), CardSource("printgateCardUid", "bytes-to-hex"))))
    summary = make_directory(core, settings, tmp_path).sync.run(full=True)
    jose = core.users.get_user("jose")
    assert jose.full_name == "José Ñuñez" and jose.cost_center == ""
    assert any("printgateNote is not UTF-8" in p for p in summary.problems)
    assert any("zo" in p and "not a usable user name" in p for p in summary.problems)
    assert core.users.get_user("bin").cards == ["04A23F11009C"]


def test_card_transforms_turn_hex_into_decimal_and_trim_zeros(core, make_slapd, tmp_path):
    server = make_slapd(DirectoryData(users=6))
    settings = directory_settings(server)
    settings = replace(settings, attributes=replace(settings.attributes, cards=(
        CardSource("employeeNumber", trim_zeros=True), CardSource("carLicense", "hex-to-decimal"))))
    make_directory(core, settings, tmp_path).sync.run(full=True)
    assert core.users.get_user("user00006").cards == ["100006", str(0x0A000006)]


def test_a_huge_group_is_read_whole(core, make_slapd, tmp_path):
    members = [person_dn(f"user{n:05d}") for n in range(1, 41)] + [f"uid=ghost{n},{PEOPLE}" for n in range(60_000)]
    huge = entry(group_dn("everyone"), {"objectClass": "groupOfNames", "cn": "everyone", "member": members},
                 loaded=True)
    server = make_slapd(DirectoryData(users=40, extra=[huge]))
    summary = make_directory(core, directory_settings(server), tmp_path).sync.run(full=True)
    assert summary.added == 40
    assert len(core.users.list_users(group="everyone")) == 40


def test_a_clear_bind_is_refused_unless_allowed(core, make_slapd, tmp_path):
    server = make_slapd(DirectoryData(users=3))
    clear = directory_settings(server, starttls=False)
    with pytest.raises(SyncFailed, match="refusing to bind without TLS"):
        make_directory(core, clear, tmp_path).sync.run(full=True)
    allowed = replace(clear, allow_plaintext=True)
    assert make_directory(core, allowed, tmp_path).sync.run(full=True).added == 3


def test_ldaps_works_and_a_server_the_ca_did_not_sign_is_refused(core, make_slapd, tmp_path, authority):
    from tests.fixtures.certificates import CertificateAuthority

    server = make_slapd(DirectoryData(users=3))
    assert make_directory(core, directory_settings(server, servers=(server.ldaps_uri,)), tmp_path).sync.run(
        full=True).added == 3
    stranger = CertificateAuthority.create(tmp_path / "other-ca")
    for uri in (server.ldaps_uri, server.uri):
        with pytest.raises(SyncFailed, match="certificate|CERTIFICATE|TLS|tls"):
            make_directory(core, directory_settings(server, servers=(uri,), ca_file=stranger.ca_file),
                           tmp_path).sync.run(full=True)


def test_a_wrong_service_password_fails_the_sync_and_changes_nothing(core, make_slapd, tmp_path):
    server = make_slapd(DirectoryData(users=3))
    directory = make_directory(core, directory_settings(server), tmp_path)
    core.secrets.set("directory/bind", "wrong")
    with pytest.raises(SyncFailed, match="invalidCredentials"):
        directory.sync.run(full=True)
    assert user_count(core) == 0


def test_the_active_directory_preset_reads_samaccountname_disabled_flag_and_whenchanged(core, make_slapd, tmp_path):
    server = make_slapd(DirectoryData(users=12))
    settings = directory_settings(
        server, preset="active_directory", user_filter="(objectClass=printgateADUser)",
        group_filter="(objectClass=groupOfNames)", nested_groups="client")
    settings = replace(settings, attributes=replace(settings.attributes, full_name="cn",
                                                    cards=(CardSource("employeeNumber"),),
                                                    cost_center="departmentNumber"))
    directory = make_directory(core, settings, tmp_path)
    directory.sync.run(full=True)
    assert set(core.users.get_user("user00004").groups) >= {"dept-4", "staff"}
    server.modify(f"dn: {person_dn('user00004')}\nchangetype: modify\nreplace: userAccountControl\n"
                  f"userAccountControl: 514\n-\nreplace: whenChanged\nwhenChanged: 20991231000000Z\n\n"
                  f"dn: {person_dn('user00005')}\nchangetype: modify\nreplace: cn\ncn: Quietly Renamed\n")
    summary = directory.sync.run()
    assert summary.kind == "incremental" and summary.disabled == 1
    assert core.users.get_user("user00004").enabled is False
    assert core.users.get_user("user00005").full_name == "User 5", \
        "whenChanged, not modifyTimestamp, says what changed under the AD preset"


def test_the_in_chain_filter_is_what_active_directory_expects():
    from accounting.directory.filters import members_in_chain
    from accounting.directory.settings import ACTIVE_DIRECTORY

    assert members_in_chain(ACTIVE_DIRECTORY, "CN=Print (all),OU=Groups,DC=corp") == (
        "(&(&(objectCategory=person)(objectClass=user))"
        "(memberOf:1.2.840.113556.1.4.1941:=CN=Print \\28all\\29,OU=Groups,DC=corp))")


def test_the_service_account_binds_by_sasl_digest_md5_with_its_sasl_name(core, make_slapd, tmp_path):
    server = make_slapd(DirectoryData(users=20), digest_md5=True)
    settings = directory_settings(server, bind_method="digest-md5", bind_dn="printgate")
    directory = make_directory(core, settings, tmp_path)
    assert directory.sync.run(full=True).added == 20
    core.secrets.set(settings.password_secret, "not-the-service-password")
    with pytest.raises(SyncFailed, match="invalidCredentials"):
        directory.sync.run(full=True)
