"""Secrets are encrypted with a key outside the database and never listed."""
import os
import stat

import pytest

from accounting.errors import AccountingError, UnknownSecret
from accounting.secrets import SecretStore


def test_a_secret_round_trips_and_is_not_stored_in_clear(core, database, settings):
    core.secrets.set("ldap-bind", "s3cret-Passw0rd")
    assert core.secrets.reveal("ldap-bind") == "s3cret-Passw0rd"
    with database.reader.connect() as conn:
        stored = bytes(conn.exec_driver_sql("SELECT ciphertext FROM secrets").scalar())
    assert b"s3cret" not in stored
    assert stat.S_IMODE(os.stat(settings.secrets_key_file).st_mode) == 0o600


def test_setting_again_replaces_and_listing_shows_names_only(core):
    core.secrets.set("smtp", "one")
    core.secrets.set("smtp", "two")
    assert core.secrets.names() == ["smtp"]
    assert core.secrets.reveal("smtp") == "two"
    assert all("two" not in (a.new_value or "") for a in core.audit.entries())


def test_another_key_cannot_read_the_secrets(core, database, tmp_path):
    core.secrets.set("api", "value")
    other = SecretStore.with_key_file(database, tmp_path / "other.key")
    with pytest.raises(AccountingError):
        other.reveal("api")


def test_an_unknown_secret_is_a_clear_error(core):
    with pytest.raises(UnknownSecret):
        core.secrets.reveal("nope")
