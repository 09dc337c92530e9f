"""Password logins checked by the directory: the user's entry is found with the service
account (by a filter built with escaping), then the password is tried in a bind as that
entry (SIMPLE over TLS, or SASL DIGEST-MD5).

Refusals are remembered for ``failure_cache_seconds`` (a keyed digest of name and
password, never the password), so a client repeating wrong credentials does not make a
round trip each time; successes are never remembered, so a password changed or an
account disabled in the directory counts at the next login. A name with no entry is
still answered by a bind (to a DN nobody has), so it takes as long as a wrong password.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict

from accounting.directory.connection import DirectoryClient
from accounting.directory.errors import DirectoryUnavailable, MalformedReply
from accounting.directory.filters import user_named
from accounting.directory.mapping import DirectoryUser, map_user
from accounting.directory.settings import DirectorySettings

MAX_REMEMBERED = 10_000


class DirectoryLogin:
    def __init__(self, settings: DirectorySettings, client: DirectoryClient, *, clock=time.monotonic):
        self.settings = settings
        self.client = client
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._refused: OrderedDict[bytes, float] = OrderedDict()

    def _digest(self, username: str, password: str) -> bytes:
        text = f"{username.lower()}\0{password}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, text, hashlib.sha256).digest()

    def refused_recently(self, username: str, password: str) -> bool:
        window = self.settings.failure_cache_seconds
        now = self.clock()
        while self._refused and next(iter(self._refused.values())) <= now - window:
            self._refused.popitem(last=False)
        return self._digest(username, password) in self._refused

    def _remember_refusal(self, username: str, password: str) -> None:
        if self.settings.failure_cache_seconds <= 0:
            return
        self._refused[self._digest(username, password)] = self.clock()
        while len(self._refused) > MAX_REMEMBERED:
            self._refused.popitem(last=False)

    def find(self, username: str, problems: list) -> DirectoryUser | None:
        """The one entry named ``username`` (None when there is none, or several)."""
        session = self.client.open()
        try:
            found = []
            for base in self.settings.user_bases:
                for entry in session.paged_search(base, user_named(self.settings, username),
                                                  self.settings.attributes.user_attributes(), page_size=2):
                    found.append(entry)
                    if len(found) > 1:
                        break
            if len(found) != 1:
                return None
            return map_user(found[0], self.settings, problems)
        except MalformedReply as exc:
            raise DirectoryUnavailable([(session.uri, str(exc))]) from None
        finally:
            session.close()

    def check(self, username: str, password: str) -> DirectoryUser | None:
        """The user's entry when ``password`` is theirs and they are not disabled in the
        directory; None otherwise. Raises ``DirectoryUnavailable``."""
        if not username or not password or self.refused_recently(username, password):
            return None
        user = self.find(username, [])
        if user is not None:
            dn = user.dn
        else:
            dn = f"{self.settings.attributes.username}=printgate-nobody-{secrets.token_hex(8)},{self.settings.user_bases[0]}"
        accepted = self.client.check_password(dn, user.username if user else username, password)
        if not accepted or user is None or user.disabled:
            self._remember_refusal(username, password)
            return None
        return user
