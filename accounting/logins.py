"""Panel and IPP logins: card, PIN and local password, with lockouts that slow a guesser
without handing anyone a way to lock someone else out.

Where a login comes from is its *source*: the printer's panel (its device id), or
``ipp:<address>`` for IPP over TLS. Failures are counted, in the database (shared by every
node, audited), under three keys:

- **a name at a source** (``user-source``): the name as typed — a username or a PIN pad's
  user number, whether or not such a user exists, so that a real and an unknown name get
  the same answers. After ``max_failures`` failures within ``window`` that name is locked
  *at that source only*: five wrong passwords over ipps:// from one address lock nothing
  at the printers.
- **a source** (``source``): every secret failure there, whoever was tried; after
  ``device_max_failures`` the source is locked for everyone (one panel or one address
  guessing across many users).
- **unknown cards at a source** (``cards``): a card tap is not a password failure — an
  unknown card is offered for linking, which needs a password — but a source presenting
  ``card_max_unknown`` unknown cards within ``window`` is slowed down.

Each lock lasts ``lockout``, doubling with every further lock of the same key (at most
``max_lockout``); a success resets the name's and the source's counts and doublings.
Every attempt is audited, never with the PIN or password. A failure says nothing about
which part was wrong, and unknown names are checked against a hash of the real cost.

A password is checked locally (Argon2id) for users who have a local one; with a
directory configured for logins (``directory``), everyone else's is checked by an LDAP
bind (``accounting.directory.login``) under the same counters and lockouts, and every
password check costs one Argon2id verification whichever way it goes, so the time of an
answer does not tell a local user from a directory one. A directory user seen for the
first time at login is imported then.
"""
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

NAME_AT_SOURCE, SOURCE, UNKNOWN_CARDS = "user-source", "source", "cards"
#: Lockout doublings are forgotten after this long without a failure.
STRIKES_FORGOTTEN = timedelta(hours=24)


def name_at_source(name, source: str | None) -> str:
    return f"{(source or '')[:120]}|{str(name).strip().lower()[:128]}"


class LoginGuard:
    def __init__(self, database: Database, *, users_store: UserStore, hasher: SecretHasher | None = None,
                 max_failures: int = 5, lockout: timedelta = timedelta(minutes=5),
                 device_max_failures: int = 20, card_max_unknown: int = 30,
                 window: timedelta = timedelta(minutes=15), max_lockout: timedelta = timedelta(hours=1)):
        self.db = database
        self.users = users_store
        self.hasher = hasher or users_store.hasher
        self.limits = {NAME_AT_SOURCE: max_failures, SOURCE: device_max_failures, UNKNOWN_CARDS: card_max_unknown}
        self.lockout = lockout
        self.max_lockout = max_lockout
        self.window = window
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

    def lock_duration(self, lockouts: int) -> timedelta:
        """The ``lockouts``-th lock in a row (1 = the first) lasts this long."""
        return min(self.max_lockout, self.lockout * (2 ** max(0, min(lockouts - 1, 30))))

    def _fail(self, conn, scope: str, key: str, now: datetime) -> None:
        limit = self.limits[scope]
        row = conn.execute(select(login_throttles.c.failures, login_throttles.c.lockouts,
                                  login_throttles.c.updated_at).where(
            login_throttles.c.scope == scope, login_throttles.c.key == key)).first()
        failures, lockouts = (row.failures, row.lockouts) if row is not None else (0, 0)
        if row is not None:
            quiet = now - aware(row.updated_at)
            if quiet > self.window:
                failures = 0
            if quiet > STRIKES_FORGOTTEN:
                lockouts = 0
        failures += 1
        locked = None
        if failures >= limit:
            lockouts += 1
            locked = now + self.lock_duration(lockouts)
            failures = 0
        values = dict(failures=failures, lockouts=lockouts, locked_until=locked, updated_at=now)
        if row is None:
            conn.execute(insert(login_throttles).values(scope=scope, key=key, **values))
        else:
            conn.execute(update(login_throttles).where(login_throttles.c.scope == scope,
                                                       login_throttles.c.key == key).values(**values))

    def _reset(self, conn, scope: str, key: str, now: datetime) -> None:
        conn.execute(update(login_throttles).where(login_throttles.c.scope == scope, login_throttles.c.key == key)
                     .values(failures=0, lockouts=0, locked_until=None, updated_at=now))

    def _record(self, *, method: str, ok: bool, actor: str | None, source: str | None, now: datetime,
                failed: tuple = (), reset: tuple = ()) -> None:
        """Count ``failed`` and clear ``reset`` ((scope, key) pairs) and audit, in one
        transaction (tried twice: two first failures of a key may race to insert it)."""
        for attempt in range(2):
            try:
                with self.db.writer.begin() as conn:
                    for scope, key in failed:
                        self._fail(conn, scope, key, now)
                    for scope, key in reset:
                        self._reset(conn, scope, key, now)
                    audit(conn, actor=actor or "(unknown)", source=source or "",
                          action=f"login.{method}.{'ok' if ok else 'fail'}", at=now)
                return
            except IntegrityError:
                if attempt:
                    raise

    # -- methods ------------------------------------------------------------------------
    def authenticate_card(self, card_number: str, *, device: str | None = None, now: datetime | None = None) -> User:
        """A card is something one has, not a guessed secret: a card login is never
        refused because of password failures, and an unknown card counts only towards
        slowing a source that presents many of them."""
        now = now or utcnow()
        source = device or ""
        self._check_unlocked(UNKNOWN_CARDS, source, now)
        with self.db.reader.connect() as conn:
            row = conn.execute(select(users.c.username, users.c.enabled).join(cards, cards.c.user_id == users.c.id)
                               .where(cards.c.number == normalize_card(card_number))).first()
        if row is None:
            self._record(method="card", ok=False, actor=None, source=device, now=now, failed=((UNKNOWN_CARDS, source),))
            raise LoginFailed("card", device)
        if not row.enabled:
            self._record(method="card", ok=False, actor=row.username, source=device, now=now)
            raise LoginFailed("card", device)
        self._record(method="card", ok=True, actor=row.username, source=device, now=now,
                     reset=((UNKNOWN_CARDS, source), (SOURCE, source)))
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
        source = device or ""
        typed = name_at_source(username, source)
        self._check_unlocked(SOURCE, source, now)
        self._check_unlocked(NAME_AT_SOURCE, typed, now)
        row = self._row(username)
        self.hasher.verify(self._dummy_hash(), password or "")
        try:
            found = directory.login.check(username, password or "")
        except DirectoryUnavailable as exc:
            log.warn("password login of {user} not checked: {error}", user=username, error=str(exc))
            with self.db.writer.begin() as conn:
                audit(conn, actor=username[:255], source=source, action="login.directory.unavailable", at=now)
            raise LoginFailed(username, device) from None
        keys = [(NAME_AT_SOURCE, typed), (SOURCE, source)]
        if found is not None and found.username != username:
            # The directory's own spelling of the name is locked like the name typed.
            keys.append((NAME_AT_SOURCE, name_at_source(found.username, source)))
            self._check_unlocked(*keys[-1], now)
            row = self._row(found.username)
        ok = found is not None and (row is None or row.enabled)
        if ok and (row is None or row.source != "directory"):
            directory.import_user(found)
        # Not yet imported users are audited under the name typed: the directory knows them.
        who = found.username if found is not None else (row.username if row is not None else username[:255])
        if not ok:
            self._record(method="directory", ok=False, actor=who, source=device, now=now, failed=tuple(keys))
            raise LoginFailed(username, device)
        self._record(method="directory", ok=True, actor=who, source=device, now=now, reset=tuple(keys))
        return self.users.get_user(found.username)

    def _secret_login(self, method, username_or_id, clear, device, now) -> User:
        now = now or utcnow()
        source = device or ""
        typed = name_at_source(username_or_id, source)
        self._check_unlocked(SOURCE, source, now)
        self._check_unlocked(NAME_AT_SOURCE, typed, now)
        column = users.c.pin_hash if method == "pin" else users.c.password_hash
        with self.db.reader.connect() as conn:
            query = select(users.c.username, users.c.enabled, column.label("encoded"))
            if isinstance(username_or_id, int):
                query = query.where(users.c.id == username_or_id)
            else:
                query = query.where(users.c.username == username_or_id)
            row = conn.execute(query).first()
        # Unknown users, and users without this secret, are checked against a hash of the
        # same cost as a real one: answering them faster would tell which names exist.
        encoded = row.encoded if row is not None and row.encoded else self._dummy_hash()
        ok = self.hasher.verify(encoded, clear or "") and row is not None and row.encoded is not None and row.enabled
        actor = row.username if row is not None else None
        if not ok:
            self._record(method=method, ok=False, actor=actor, source=device, now=now,
                         failed=((NAME_AT_SOURCE, typed), (SOURCE, source)))
            raise LoginFailed(str(username_or_id), device)
        self._record(method=method, ok=True, actor=actor, source=device, now=now,
                     reset=((NAME_AT_SOURCE, typed), (SOURCE, source)))
        return self.users.get_user(row.username)
