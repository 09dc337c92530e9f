"""Secrets (device credentials, LDAP/SMTP passwords, API keys) encrypted in the database
with a key kept outside it, in a file of mode 0600 next to, not inside, the database. A
stolen database or backup alone reveals nothing. Nothing here ever lists a secret's
value; ``reveal`` exists for the code that must use it (connecting to LDAP, sending mail,
authenticating a device).

**Cipher.** AES-256-GCM. A stored value is ``0x02 | key id (4) | nonce (12) |
ciphertext+tag``; the secret's name is the associated data, so a value moved to another
name does not decrypt. The key is derived with HKDF-SHA256 from the 32 random bytes of
the key file (base64url, one key per line: the first encrypts, the others only decrypt —
rows written under an older line are re-encrypted with the first when the store opens).
The key id (the first 4 bytes of a hash of the key) says which key file a value needs:
"encrypted with key 3f2a91c0" is a better error than "cannot decrypt" on a node given the
wrong file.

**Migration.** Until issue 14 values were Fernet tokens (AES-128-CBC + HMAC) under the
same key file. Opening the store re-encrypts every such row with AES-256-GCM, in one
transaction; the key file itself does not change (its 32 random bytes are the material
for both), so every node sharing a database and a key file keeps reading every row.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets as random
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, insert, select, update

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountingError, UnknownSecret
from accounting.private_files import FILE_MODE, write_private
from accounting.schema import secrets
from accounting.time import utcnow

VERSION = b"\x02"
KEY_ID_SIZE = 4
NONCE_SIZE = 12
_HKDF_INFO = b"printgate secrets: AES-256-GCM v1"


@dataclass(frozen=True)
class SecretKey:
    """One line of the key file: the AES-256-GCM key derived from it, its id, and the
    Fernet key the same bytes made before (to read rows not yet migrated)."""

    key_id: bytes
    aead: AESGCM
    fernet: Fernet

    @classmethod
    def from_line(cls, line: bytes) -> "SecretKey":
        try:
            material = base64.urlsafe_b64decode(line.strip())
        except ValueError:
            material = b""
        if len(material) != 32:
            raise AccountingError("a secrets key file holds lines of 32 random bytes in base64url")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(material)
        key_id = hashlib.sha256(b"printgate secrets key id\0" + key).digest()[:KEY_ID_SIZE]
        return cls(key_id=key_id, aead=AESGCM(key), fernet=Fernet(base64.urlsafe_b64encode(material)))


def new_key_line() -> bytes:
    return base64.urlsafe_b64encode(random.token_bytes(32))


def load_or_create_key(path: Path) -> bytes:
    """The key file's contents, creating it (0600, one new key) on first use; a file
    left wider than 0600 is tightened."""
    path = Path(path)
    if path.exists():
        if path.stat().st_mode & 0o077:
            os.chmod(path, FILE_MODE)
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, new_key_line() + b"\n")
    return path.read_bytes()


class SecretStore:
    def __init__(self, database: Database, key: bytes):
        """``key``: the key file's contents (one base64url key per line, current first)."""
        self.db = database
        keys = [SecretKey.from_line(line) for line in key.splitlines() if line.strip()]
        if not keys:
            raise AccountingError("the secrets key file is empty")
        self._current = keys[0]
        self._by_id = {k.key_id: k for k in reversed(keys)}
        self._keys = keys

    @classmethod
    def with_key_file(cls, database: Database, key_file: Path) -> "SecretStore":
        store = cls(database, load_or_create_key(key_file))
        store.reencrypt_old_rows()
        return store

    @property
    def key_id(self) -> str:
        return self._current.key_id.hex()

    def _seal(self, name: str, value: str) -> bytes:
        nonce = random.token_bytes(NONCE_SIZE)
        return (VERSION + self._current.key_id + nonce
                + self._current.aead.encrypt(nonce, value.encode("utf-8"), name.encode("utf-8")))

    def _open(self, name: str, token: bytes) -> str:
        if token[:1] != VERSION:
            return self._open_fernet(name, token)
        key_id = token[1:1 + KEY_ID_SIZE]
        key = self._by_id.get(key_id)
        if key is None:
            raise AccountingError(f"secret {name!r} is encrypted with key {key_id.hex()}, not in this key file "
                                  f"(its key is {self.key_id}): use the secrets.key of the node that stored it")
        start = 1 + KEY_ID_SIZE
        try:
            plain = key.aead.decrypt(token[start:start + NONCE_SIZE], token[start + NONCE_SIZE:], name.encode("utf-8"))
        except InvalidTag:
            raise AccountingError(f"secret {name!r} cannot be decrypted: altered, or stored under another name") from None
        return plain.decode("utf-8")

    def _open_fernet(self, name: str, token: bytes) -> str:
        for key in self._keys:
            try:
                return key.fernet.decrypt(token).decode("utf-8")
            except InvalidToken:
                continue
        raise AccountingError(f"secret {name!r} cannot be decrypted with this key file")

    def set(self, name: str, value: str, *, actor: str = "admin") -> None:
        token = self._seal(name, value)
        with self.db.writer.begin() as conn:
            found = conn.execute(update(secrets).where(secrets.c.name == name)
                                 .values(ciphertext=token, updated_at=utcnow())).rowcount
            if not found:
                conn.execute(insert(secrets).values(name=name, ciphertext=token, updated_at=utcnow()))
            audit(conn, actor=actor, action="secret.set", target=name, new=f"(hidden, key {self.key_id})")

    def reveal(self, name: str) -> str:
        with self.db.reader.connect() as conn:
            token = conn.execute(select(secrets.c.ciphertext).where(secrets.c.name == name)).scalar()
        if token is None:
            raise UnknownSecret(name)
        return self._open(name, bytes(token))

    def remove(self, name: str, *, actor: str = "admin") -> None:
        with self.db.writer.begin() as conn:
            if conn.execute(delete(secrets).where(secrets.c.name == name)).rowcount != 1:
                raise UnknownSecret(name)
            audit(conn, actor=actor, action="secret.remove", target=name)

    def names(self) -> list[str]:
        with self.db.reader.connect() as conn:
            return list(conn.execute(select(secrets.c.name).order_by(secrets.c.name)).scalars())

    def key_ids(self) -> dict[str, str]:
        """Which key each secret is encrypted with (``fernet`` for a row not migrated)."""
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(secrets.c.name, secrets.c.ciphertext).order_by(secrets.c.name)).all()
        return {name: bytes(token)[1:1 + KEY_ID_SIZE].hex() if bytes(token)[:1] == VERSION else "fernet"
                for name, token in rows}

    def reencrypt_old_rows(self, *, actor: str = "secrets") -> int:
        """Re-encrypt, with the current key, every row written as a Fernet token or under
        an older key of the file; rows this key file cannot read are left alone (another
        node's). One transaction; returns how many rows changed."""
        def outdated(conn):
            return [(name, bytes(token)) for name, token in conn.execute(select(secrets.c.name, secrets.c.ciphertext))
                    if bytes(token)[:1 + KEY_ID_SIZE] != VERSION + self._current.key_id]

        with self.db.reader.connect() as conn:
            if not outdated(conn):
                return 0  # the usual case: no write transaction at all
        changed = 0
        with self.db.writer.begin() as conn:
            for name, token in outdated(conn):
                try:
                    value = self._open(name, token)
                except AccountingError:
                    continue
                conn.execute(update(secrets).where(secrets.c.name == name, secrets.c.ciphertext == token)
                             .values(ciphertext=self._seal(name, value), updated_at=utcnow()))
                changed += 1
            if changed:
                audit(conn, actor=actor, action="secret.reencrypt", target=f"{changed} secret(s)",
                      new=f"AES-256-GCM, key {self.key_id}")
        return changed
