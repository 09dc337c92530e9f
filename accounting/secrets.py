"""Secrets (device credentials, LDAP/SMTP passwords, API keys) encrypted in the database
with a key kept outside it: a Fernet key (AES-128-CBC + HMAC-SHA256) in a file of mode
0600 next to, not inside, the database. A stolen database or backup alone reveals
nothing. Nothing here ever lists a secret's value; ``reveal`` exists for the code that
must use it (connecting to LDAP, authenticating a device)."""
from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import insert, select, update

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountingError, UnknownSecret
from accounting.schema import secrets
from accounting.time import utcnow


def load_or_create_key(path: Path) -> bytes:
    path = Path(path)
    if path.exists():
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


class SecretStore:
    def __init__(self, database: Database, key: bytes):
        self.db = database
        self._fernet = Fernet(key)

    @classmethod
    def with_key_file(cls, database: Database, key_file: Path) -> "SecretStore":
        return cls(database, load_or_create_key(key_file))

    def set(self, name: str, value: str, *, actor: str = "admin") -> None:
        token = self._fernet.encrypt(value.encode("utf-8"))
        with self.db.writer.begin() as conn:
            found = conn.execute(update(secrets).where(secrets.c.name == name)
                                 .values(ciphertext=token, updated_at=utcnow())).rowcount
            if not found:
                conn.execute(insert(secrets).values(name=name, ciphertext=token, updated_at=utcnow()))
            audit(conn, actor=actor, action="secret.set", target=name, new="(hidden)")

    def reveal(self, name: str) -> str:
        with self.db.reader.connect() as conn:
            token = conn.execute(select(secrets.c.ciphertext).where(secrets.c.name == name)).scalar()
        if token is None:
            raise UnknownSecret(name)
        try:
            return self._fernet.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken:
            raise AccountingError(f"secret {name!r} cannot be decrypted with this key") from None

    def names(self) -> list[str]:
        with self.db.reader.connect() as conn:
            return list(conn.execute(select(secrets.c.name).order_by(secrets.c.name)).scalars())
