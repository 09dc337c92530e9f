"""Users, cards, cost centers and groups from an LDAP directory or Active Directory, and
password logins checked by an LDAP bind (ldap3; every call blocks, so the gateway makes
them in the reactor's thread pool).

``Directory`` puts the parts together for one configuration: ``sync`` (full and
incremental, ``accounting.directory.sync``), ``login`` (``accounting.directory.login``)
and ``preview`` (what would be imported for one user).
"""
from __future__ import annotations

import base64
import secrets as random
from pathlib import Path

from accounting.directory.connection import DirectoryClient
from accounting.directory.errors import (
    DirectoryError, DirectoryUnavailable, NotInDirectory, PlaintextRefused, SyncFailed,
)
from accounting.directory.login import DirectoryLogin
from accounting.directory.settings import DirectorySettings, settings_from_section
from accounting.directory.sync import DirectorySync, SyncSummary
from accounting.errors import UnknownSecret

__all__ = ["Directory", "DirectorySettings", "DirectoryError", "DirectoryUnavailable", "NotInDirectory",
           "PlaintextRefused", "SyncFailed", "SyncSummary", "settings_from_section"]

FINGERPRINT_KEY_SECRET = "directory/fingerprint-key"


class Directory:
    def __init__(self, database, settings: DirectorySettings, *, users_store, secret_store,
                 staging_dir: Path | None = None):
        self.settings = settings
        self.secret_store = secret_store
        self.client = DirectoryClient(settings, password_source=self._bind_password)
        self.login = DirectoryLogin(settings, self.client)
        self.sync = DirectorySync(database, settings, self.client, users_store=users_store,
                                  fingerprint_key=self._fingerprint_key(), staging_dir=staging_dir)

    def _bind_password(self) -> str | None:
        if self.secret_store is None:
            return None
        try:
            return self.secret_store.reveal(self.settings.password_secret)
        except UnknownSecret:
            return None

    def _fingerprint_key(self) -> bytes:
        """The key that digests PINs read from the directory (to notice a change without
        keeping the PIN): a random secret made on first use."""
        if self.secret_store is None:
            return random.token_bytes(32)
        try:
            return base64.b64decode(self.secret_store.reveal(FINGERPRINT_KEY_SECRET))
        except UnknownSecret:
            key = random.token_bytes(32)
            self.secret_store.set(FINGERPRINT_KEY_SECRET, base64.b64encode(key).decode("ascii"), actor="directory")
            return key

    def import_user(self, user) -> None:
        """Bring one user found at login into the gateway now (the next sync would)."""
        self.sync.import_user(user)
