"""Panel logins: card, PIN and password, with failure counters per user and per device.
After ``max_failures`` consecutive failures the user (or the device) is locked for
``lockout``; every attempt is audited (never with the PIN or password). A failure says
nothing about which part was wrong.

A password is checked locally (Argon2id) for users who have a local one; with a
directory configured for logins (``directory``), everyone else's is checked by an LDAP
bind (``accounting.directory.login``) under the same counters and lockouts, and every
password check costs one Argon2id verification whichever way it goes, so the time of an
answer does not tell a local user from a directory one. A directory user seen for the
first time at login is imported then."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import LoginFailed, LoginLocked
from accounting.passwords import SecretHasher
from accounting.records import User
from accounting.schema import cards, login_throttles, users
from accounting.time import aware, utcnow
from accounting.users import UserStore, normalize_card
from twisted.logger import Logger

log = Logger()


class LoginGuard:
    def __init__(self, database: Database, *, users_store: UserStore, hasher: SecretHasher | None = None,
                 max_failures: int = 5, lockout: timedelta = timedelta(minutes=5),
                 device_max_failures: int = 20):
        self.db = database
        self.users = users_store
        self.hasher = hasher or users_store.hasher
        self.max_failures = max_failures
        self.device_max_failures = device_max_failures
        self.lockout = lockout
        self._dummy = None
        #: ``accounting.directory.Directory`` checking the passwords of non-local users.
        self.directory = None

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(24))
        return self._dummy

    # -- counters ---------------------------------------------------------------------
    def _check_unlocked(self, scope: str, key: str, now: datetime) -> None:
        with self.db.reader.connect() as conn:
            until = conn.execute(select(login_throttles.c.locked_until).where(
                login_throttles.c.scope == scope, login_throttles.c.key == key)).scalar()
        until = aware(until)
        if until is not None and until > now:
            raise LoginLocked(scope, key, until)

    def _fail(self, conn, scope: str, key: str, limit: int, now: datetime) -> None:
        row = conn.execute(select(login_throttles.c.failures).where(
            login_throttles.c.scope == scope, login_throttles.c.key == key)).first()
        if row is None:
            conn.execute(insert(login_throttles).values(scope=scope, key=key, failures=1, updated_at=now,
                                                        locked_until=now + self.lockout if limit <= 1 else None))
            return
        failures = row.failures + 1
        locked = now + self.lockout if failures >= limit else None
        conn.execute(update(login_throttles).where(login_throttles.c.scope == scope, login_throttles.c.key == key)
                     .values(failures=0 if locked else failures, locked_until=locked, updated_at=now))

    def _reset(self, conn, scope: str, key: str, now: datetime) -> None:
        conn.execute(update(login_throttles).where(login_throttles.c.scope == scope, login_throttles.c.key == key)
                     .values(failures=0, locked_until=None, updated_at=now))

    def _outcome(self, *, method: str, username: str | None, device: str | None, ok: bool, now: datetime) -> None:
        for attempt in range(2):
            try:
                with self.db.writer.begin() as conn:
                    if ok:
                        self._reset(conn, "user", username, now)
                    else:
                        if username is not None:
                            self._fail(conn, "user", username, self.max_failures, now)
                        if device is not None:
                            self._fail(conn, "device", device, self.device_max_failures, now)
                    audit(conn, actor=username or "(unknown)", source=device or "",
                          action=f"login.{method}.{'ok' if ok else 'fail'}", at=now)
                return
            except IntegrityError:
                if attempt:
                    raise

    def _precheck(self, username: str | None, device: str | None, now: datetime) -> None:
        if device is not None:
            self._check_unlocked("device", device, now)
        if username is not None:
            self._check_unlocked("user", username, now)

    # -- methods ------------------------------------------------------------------------
    def authenticate_card(self, card_number: str, *, device: str | None = None, now: datetime | None = None) -> User:
        now = now or utcnow()
        self._precheck(None, device, now)
        with self.db.reader.connect() as conn:
            row = conn.execute(select(users.c.username, users.c.enabled).join(cards, cards.c.user_id == users.c.id)
                               .where(cards.c.number == normalize_card(card_number))).first()
        if row is not None:
            self._precheck(row.username, None, now)
        ok = row is not None and row.enabled
        self._outcome(method="card", username=row.username if row else None, device=device, ok=ok, now=now)
        if not ok:
            raise LoginFailed("card", device)
        return self.users.get_user(row.username)

    def authenticate_pin(self, username_or_id, pin: str, *, device: str | None = None,
                         now: datetime | None = None) -> User:
        return self._secret_login("pin", username_or_id, pin, device, now)

    def verify_password(self, username: str, password: str, *, device: str | None = None,
                        now: datetime | None = None) -> User:
        directory = self.directory
        if directory is not None and directory.settings.login and not self._has_local_password(username):
            return self._directory_login(directory, username, password, device, now)
        return self._secret_login("password", username, password, device, now)

    def _has_local_password(self, username: str) -> bool:
        with self.db.reader.connect() as conn:
            row = conn.execute(select(users.c.password_hash, users.c.source).where(users.c.username == username)).first()
        return row is not None and row.password_hash is not None and row.source != "directory"

    def _row(self, username: str):
        with self.db.reader.connect() as conn:
            return conn.execute(select(users.c.username, users.c.enabled, users.c.source)
                                .where(users.c.username == username)).first()

    def _directory_login(self, directory, username, password, device, now) -> User:
        # Only with a directory: it loads ldap3, which is slow to import.
        from accounting.directory import DirectoryUnavailable

        now = now or utcnow()
        self._precheck(None, device, now)
        row = self._row(username)
        self._precheck(row.username if row is not None else username[:255], None, now)
        self.hasher.verify(self._dummy_hash(), password or "")
        try:
            found = directory.login.check(username, password or "")
        except DirectoryUnavailable as exc:
            log.warn("password login of {user} not checked: {error}", user=username, error=str(exc))
            with self.db.writer.begin() as conn:
                audit(conn, actor=username[:255], source=device or "", action="login.directory.unavailable", at=now)
            raise LoginFailed(username, device) from None
        if found is not None and found.username != username:
            row = self._row(found.username)
            if row is not None:
                self._precheck(row.username, None, now)
        ok = found is not None and (row is None or row.enabled)
        if ok and (row is None or row.source != "directory"):
            directory.import_user(found)
        # Not yet imported users are counted under the name typed: the directory knows them.
        who = found.username if found is not None else (row.username if row is not None else username[:255])
        self._outcome(method="directory", username=who, device=device, ok=ok, now=now)
        if not ok:
            raise LoginFailed(username, device)
        return self.users.get_user(found.username)

    def _secret_login(self, method, username_or_id, clear, device, now) -> User:
        now = now or utcnow()
        self._precheck(None, device, now)
        column = users.c.pin_hash if method == "pin" else users.c.password_hash
        with self.db.reader.connect() as conn:
            query = select(users.c.username, users.c.enabled, column.label("encoded"))
            if isinstance(username_or_id, int):
                query = query.where(users.c.id == username_or_id)
            else:
                query = query.where(users.c.username == username_or_id)
            row = conn.execute(query).first()
        if row is not None:
            self._precheck(row.username, None, now)
        # Unknown users, and users without this secret, are checked against a hash of the
        # same cost as a real one: answering them faster would tell which names exist.
        encoded = row.encoded if row is not None and row.encoded else self._dummy_hash()
        ok = self.hasher.verify(encoded, clear or "") and row is not None and row.encoded is not None and row.enabled
        self._outcome(method=method, username=row.username if row else None, device=device, ok=ok, now=now)
        if not ok:
            raise LoginFailed(str(username_or_id), device)
        return self.users.get_user(row.username)
