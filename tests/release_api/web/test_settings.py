"""The settings page: secrets are written, shown only as ``*****``, never sent back; SNMP
credentials are the fleet's own (their community or keys never shown), kept in the order
they are tried; a raw secret cannot overwrite an SNMP credential."""
import pytest

from accounting.fleet.credentials import CredentialStore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SMTP_PASSWORD = "smtp-pass-9f3b1c"


def snmp(world):
    return CredentialStore(world.core.database, lambda: world.core.secrets)


def test_a_secret_is_stored_and_shown_only_as_stars(world):
    http = world.session("ana")
    before = http.get(world.url + "/admin/settings").text
    assert "(not set)" in before
    done = world.post_form(http, "/admin/settings", "/admin/settings", {"name": "smtp/password", "value": SMTP_PASSWORD})
    assert done.status_code == 200 and "smtp/password stored" in done.text
    assert world.core.secrets.reveal("smtp/password") == SMTP_PASSWORD
    assert "*****" in done.text and SMTP_PASSWORD not in done.text
    for path in ("/admin/settings", "/admin/access-log", "/finance/audit"):
        assert SMTP_PASSWORD not in http.get(world.url + path).text, path


def test_an_snmp_credential_is_stored_for_the_fleet_and_its_community_never_shown(world):
    http = world.session("ana")
    done = world.post_form(http, "/admin/settings", "/admin/settings/snmp",
                           {"action": "set", "name": "office", "version": "2c", "community": "c0mmun1ty-x"})
    assert "SNMP credential office stored" in done.text
    assert "v2c community" in done.text and "c0mmun1ty-x" not in done.text
    (office,) = [c for c in snmp(world).load() if c.name == "office"]
    assert (office.version, office.community) == ("2c", "c0mmun1ty-x")


def test_snmpv3_credentials_are_checked_ordered_and_removed(world):
    http = world.session("ana")
    short = world.post_form(http, "/admin/settings", "/admin/settings/snmp",
                            {"action": "set", "name": "secure", "version": "3", "user": "printgate",
                             "auth_protocol": "sha256", "auth_key": "short"})
    assert "at least 8 characters" in short.text
    world.post_form(http, "/admin/settings", "/admin/settings/snmp",
                    {"action": "set", "name": "secure", "version": "3", "user": "printgate", "auth_protocol": "sha256",
                     "auth_key": "auth-key-long-1", "priv_protocol": "aes128", "priv_key": "priv-key-long-1"})
    page = world.post_form(http, "/admin/settings", "/admin/settings/snmp",
                           {"action": "move", "name": "secure", "position": "1"})
    assert "v3 user printgate (authPriv, SHA256/AES128)" in page.text
    assert "auth-key-long-1" not in page.text and "priv-key-long-1" not in page.text
    assert [c.name for c in snmp(world).describe()][:2] == ["secure", "office"]
    world.post_form(http, "/admin/settings", "/admin/settings/snmp", {"action": "remove", "name": "secure"})
    assert "secure" not in [c.name for c in snmp(world).describe()]


def test_a_raw_secret_cannot_overwrite_an_snmp_credential(world):
    http = world.session("ana")
    world.post_form(http, "/admin/settings", "/admin/settings/snmp",
                    {"action": "set", "name": "floor", "version": "1", "community": "floor-community"})
    refused = world.post_form(http, "/admin/settings", "/admin/settings", {"name": "snmp/floor", "value": "junk"})
    assert "is not a setting kept as a secret" in refused.text
    (floor,) = [c for c in snmp(world).load() if c.name == "floor"]
    assert floor.community == "floor-community"


def test_finance_may_not_change_settings(world):
    http = world.session("fay")
    assert http.get(world.url + "/admin/settings").status_code == 403


def test_the_mail_relay_and_directory_are_shown_and_their_passwords_are_the_configured_secrets(world):
    from accounting.directory.settings import DirectorySettings
    from spooler.config import GatewayConfig

    config = GatewayConfig()
    config.mail.host, config.mail.user, config.mail.password_secret = "relay.example.org", "printgate", "mail/relay"
    config.directory = DirectorySettings(servers=("ldaps://ldap1.example.org",), user_bases=("ou=people,dc=example",),
                                         bind_dn="cn=printgate,dc=example", password_secret="ldap/printgate")
    world.services.config = config
    try:
        http = world.session("ana")
        page = http.get(world.url + "/admin/settings").text
        assert "relay.example.org:587" in page and "ldaps://ldap1.example.org" in page and "by LDAP bind" in page
        assert "<code>mail/relay</code>" in page and "<code>ldap/printgate</code>" in page
        done = world.post_form(http, "/admin/settings", "/admin/settings", {"name": "ldap/printgate", "value": "b1nd"})
        assert "ldap/printgate stored" in done.text and world.core.secrets.reveal("ldap/printgate") == "b1nd"
        other = world.post_form(http, "/admin/settings", "/admin/settings", {"name": "totp/1", "value": "x"})
        assert "is not a setting kept as a secret" in other.text
    finally:
        world.services.config = None
