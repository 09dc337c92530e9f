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


def _stored(database, name):
    with database.reader.connect() as conn:
        return bytes(conn.exec_driver_sql("SELECT ciphertext FROM secrets WHERE name = ?" if database.is_sqlite
                                          else "SELECT ciphertext FROM secrets WHERE name = %s", (name,)).scalar())


def test_a_secret_is_aes_256_gcm_under_the_key_id_of_the_key_file(core, database):
    core.secrets.set("smtp/password", "hunter2-hunter2")
    stored = _stored(database, "smtp/password")
    assert stored[:1] == b"\x02" and stored[1:5].hex() == core.secrets.key_id
    assert len(stored) == 1 + 4 + 12 + len("hunter2-hunter2") + 16
    assert core.secrets.key_ids() == {"smtp/password": core.secrets.key_id}


def test_a_value_moved_to_another_name_does_not_decrypt(core, database):
    from sqlalchemy import update

    from accounting.schema import secrets

    core.secrets.set("a", "value-a")
    core.secrets.set("b", "value-b")
    with database.writer.begin() as conn:
        conn.execute(update(secrets).where(secrets.c.name == "b").values(ciphertext=_stored(database, "a")))
    with pytest.raises(AccountingError, match="another name"):
        core.secrets.reveal("b")


def test_fernet_secrets_of_before_are_re_encrypted_when_the_store_opens(database, settings):
    from cryptography.fernet import Fernet
    from sqlalchemy import insert

    from accounting.schema import secrets
    from accounting.secrets import load_or_create_key
    from accounting.time import utcnow

    key_text = load_or_create_key(settings.secrets_key_file)
    legacy = Fernet(key_text.strip()).encrypt(b"old-smtp-password")
    with database.writer.begin() as conn:
        conn.execute(insert(secrets).values(name="smtp/password", ciphertext=legacy, updated_at=utcnow()))
    store = SecretStore.with_key_file(database, settings.secrets_key_file)
    assert store.key_ids() == {"smtp/password": store.key_id}
    assert store.reveal("smtp/password") == "old-smtp-password"
    assert _stored(database, "smtp/password")[:1] == b"\x02"
    assert settings.secrets_key_file.read_bytes() == key_text  # every node keeps its key file
    assert SecretStore.with_key_file(database, settings.secrets_key_file).reencrypt_old_rows() == 0


def test_a_key_file_with_a_new_first_line_re_encrypts_the_rows_of_the_older_one(core, database, settings):
    from accounting.secrets import new_key_line

    core.secrets.set("ldap/bind", "bind-secret")
    old_id = core.secrets.key_id
    settings.secrets_key_file.write_bytes(new_key_line() + b"\n" + settings.secrets_key_file.read_bytes())
    rotated = SecretStore.with_key_file(database, settings.secrets_key_file)
    assert rotated.key_id != old_id
    assert rotated.key_ids() == {"ldap/bind": rotated.key_id}
    assert rotated.reveal("ldap/bind") == "bind-secret"


def test_a_value_under_a_key_this_node_lacks_names_that_key(core, database, tmp_path):
    core.secrets.set("api", "value")
    other = SecretStore.with_key_file(database, tmp_path / "other.key")
    with pytest.raises(AccountingError, match=core.secrets.key_id):
        other.reveal("api")


def test_a_key_file_left_readable_by_others_is_tightened(database, tmp_path):
    path = tmp_path / "secrets.key"
    SecretStore.with_key_file(database, path)
    os.chmod(path, 0o644)
    SecretStore.with_key_file(database, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
