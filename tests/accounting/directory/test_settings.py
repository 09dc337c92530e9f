"""The [directory] section: presets, overrides, and mistakes named by key."""
from __future__ import annotations

import pytest

from accounting.directory.cards import CardValueError, card_number
from accounting.directory.errors import DirectoryConfigError
from accounting.directory.filters import escape, user_named
from accounting.directory.settings import CardSource, settings_from_section

BASE = {"servers": ["ldaps://dc1.corp", "ldaps://dc2.corp"], "user_bases": ["OU=Staff,DC=corp"]}


def test_the_active_directory_preset_sets_its_attributes_and_keys_in_the_file_win():
    settings = settings_from_section({**BASE, "preset": "active_directory",
                                      "attributes": {"cards": [{"attribute": "extensionAttribute5",
                                                                "transform": "hex-to-decimal", "trim_zeros": True},
                                                               "employeeID"]}})
    attributes = settings.attributes
    assert (attributes.username, attributes.disabled, attributes.modified, settings.nested_groups) == (
        "sAMAccountName", "userAccountControl", "whenChanged", "in-chain")
    assert attributes.cards == (CardSource("extensionAttribute5", "hex-to-decimal", True), CardSource("employeeID"))
    assert settings.servers == ("ldaps://dc1.corp", "ldaps://dc2.corp")


@pytest.mark.parametrize("section, key", [
    ({"servers": [], "user_bases": ["o=x"]}, "servers"),
    ({"servers": ["http://x"], "user_bases": ["o=x"]}, "servers"),
    ({"servers": ["ldap://x"]}, "user_bases"),
    ({**BASE, "preset": "novell"}, "preset"),
    ({**BASE, "bind_method": "ntlm"}, "bind_method"),
    ({**BASE, "page_size": 0}, "page_size"),
    ({**BASE, "allow_plaintext": "yes"}, "allow_plaintext"),
    ({**BASE, "attributes": {"cards": [{"attribute": "x", "transform": "rot13"}]}}, "attributes.cards[0]"),
])
def test_a_mistake_names_its_key(section, key):
    with pytest.raises(DirectoryConfigError) as raised:
        settings_from_section(section)
    assert raised.value.key == key


def test_plaintext_is_possible_only_when_allowed_for_an_ldap_uri_without_starttls():
    assert not settings_from_section({**BASE, "servers": ["ldap://x"], "starttls": False}).plaintext_possible
    assert settings_from_section({**BASE, "servers": ["ldap://x"], "starttls": False,
                                  "allow_plaintext": True}).plaintext_possible
    assert not settings_from_section({**BASE, "allow_plaintext": True}).plaintext_possible


@pytest.mark.parametrize("raw, transform, trim, expected", [
    (b"0000123456", "none", False, "0000123456"),
    (b"0000123456", "none", True, "123456"),
    (b"0a:00:00:06", "hex-to-decimal", False, str(0x0A000006)),
    (b"167772166", "decimal-to-hex", False, "A000006"),
    (b"\x04\xa2\x3f", "bytes-to-hex", False, "04A23F"),
    (b" ab-12 ", "none", False, "AB-12"),
])
def test_card_transforms(raw, transform, trim, expected):
    assert card_number(raw, transform, trim) == expected


@pytest.mark.parametrize("raw, transform", [(b"zz", "hex-to-decimal"), (b"12a", "decimal-to-hex"),
                                            (b"\xff\xfe", "none"), (b"a b*c", "none"), (b"", "bytes-to-hex")])
def test_a_value_that_is_not_a_card_is_refused(raw, transform):
    with pytest.raises(CardValueError):
        card_number(raw, transform)


def test_filters_escape_what_people_type():
    assert escape("*)(uid=*") == "\\2a\\29\\28uid=\\2a"
    assert escape("a\\b\0") == "a\\5cb\\00"
    settings = settings_from_section(BASE)
    assert user_named(settings, "*)(uid=*") == "(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))"
