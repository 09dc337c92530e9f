"""TOTP second factor (RFC 6238, with pyotp) and one-time recovery codes.

Required of admins and finance at every web login. Enrolment is two steps: the web page
shows a fresh secret (and its QR code), and only a correct code from the person's app
stores it (encrypted, in ``accounting.secrets`` as ``totp/<user id>``) together with ten
recovery codes, shown once and kept only as SHA-256 hashes. A code is accepted once:
``last_step`` remembers the newest time step used, so a code seen over a shoulder (or
replayed) within its 30 seconds is refused. One step of clock drift either way is
accepted. Enrolling, resetting and using a recovery code are audited.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets as random
import time
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, insert, select, update

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountingError, UnknownSecret, UnknownUser
from accounting.schema import recovery_codes, totp_factors, users
from accounting.time import utcnow

ISSUER = "Printgate"
RECOVERY_CODE_COUNT = 10
#: Codes look like ``k7q2-m9x4-p3t8`` (base32 without look-alikes, 60 bits).
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class SecondFactorError(AccountingError):
    pass


class BadTotpCode(SecondFactorError):
    def __init__(self, username):
        super().__init__("the code was not accepted")
        self.username = username


class NotEnrolled(SecondFactorError):
    def __init__(self, username):
        super().__init__(f"{username} has no second factor enrolled")
        self.username = username


@dataclass(frozen=True)
class Enrolment:
    """What an enrolment page shows: the secret, and the ``otpauth://`` URI its QR code
    encodes."""

    username: str
    secret: str
    uri: str


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace(" ", "").encode()).hexdigest()


def new_recovery_code() -> str:
    return "-".join("".join(random.choice(_CODE_ALPHABET) for _ in range(4)) for _ in range(3))


class SecondFactors:
    def __init__(self, database: Database, secrets_store, *, clock=time.time):
        """``secrets_store``: a callable returning the ``SecretStore`` (opened lazily)."""
        self.db = database
        self._secrets = secrets_store
        self.clock = clock

    @property
    def secrets(self):
        store = self._secrets()
        if store is None:
            raise SecondFactorError("no secrets key is configured: TOTP secrets cannot be kept")
        return store

    @staticmethod
    def _user_id(conn, username: str) -> int:
        found = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
        if found is None:
            raise UnknownUser(username)
        return found

    def is_enrolled(self, username: str) -> bool:
        with self.db.reader.connect() as conn:
            return conn.execute(select(totp_factors.c.user_id).join(users, users.c.id == totp_factors.c.user_id)
                                .where(users.c.username == username)).first() is not None

    def begin_enrolment(self, username: str) -> Enrolment:
        """A fresh secret; nothing is stored until ``confirm_enrolment``."""
        secret = pyotp.random_base32()
        return Enrolment(username, secret, pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER))

    def _step(self, secret: str, code: str, last_step: int) -> int | None:
        """The time step ``code`` belongs to (now, or one either side), if newer than
        ``last_step``."""
        code = (code or "").strip().replace(" ", "")
        if not (code.isdigit() and len(code) == 6):
            return None
        totp = pyotp.TOTP(secret)
        now_step = int(self.clock()) // totp.interval
        for step in (now_step, now_step - 1, now_step + 1):
            if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    def confirm_enrolment(self, username: str, secret: str, code: str, *, actor: str) -> list[str]:
        """Store ``secret`` once ``code`` proves the app has it; returns the recovery
        codes (shown once). A second enrolment replaces the first."""
        step = self._step(secret, code, 0)
        if step is None:
            raise BadTotpCode(username)
        codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        with self.db.reader.connect() as conn:
            user_id = self._user_id(conn, username)
        self.secrets.set(f"totp/{user_id}", secret, actor=actor)
        with self.db.writer.begin() as conn:
            conn.execute(delete(totp_factors).where(totp_factors.c.user_id == user_id))
            conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
            conn.execute(insert(totp_factors).values(user_id=user_id, enrolled_at=utcnow(), last_step=step))
            conn.execute(insert(recovery_codes), [dict(user_id=user_id, code_hash=_hash(c)) for c in codes])
            audit(conn, actor=actor, action="totp.enrol", target=username)
        return codes

    def verify(self, username: str, code: str) -> None:
        """Accept a TOTP code once, else ``BadTotpCode``."""
        with self.db.reader.connect() as conn:
            row = conn.execute(select(totp_factors.c.user_id, totp_factors.c.last_step)
                               .join(users, users.c.id == totp_factors.c.user_id)
                               .where(users.c.username == username)).first()
        if row is None:
            raise NotEnrolled(username)
        try:
            secret = self.secrets.reveal(f"totp/{row.user_id}")
        except UnknownSecret:
            raise NotEnrolled(username) from None
        step = self._step(secret, code, row.last_step)
        if step is None:
            raise BadTotpCode(username)
        with self.db.writer.begin() as conn:
            # Conditional: two requests racing with the same code cannot both pass.
            if conn.execute(update(totp_factors).where(totp_factors.c.user_id == row.user_id,
                                                       totp_factors.c.last_step < step)
                            .values(last_step=step)).rowcount != 1:
                raise BadTotpCode(username)

    def use_recovery_code(self, username: str, code: str) -> int:
        """Spend one recovery code; returns how many are left. ``BadTotpCode`` if it is
        not one of theirs or was used."""
        with self.db.writer.begin() as conn:
            user_id = self._user_id(conn, username)
            used = conn.execute(update(recovery_codes).where(
                recovery_codes.c.user_id == user_id, recovery_codes.c.code_hash == _hash(code),
                recovery_codes.c.used_at.is_(None)).values(used_at=utcnow())).rowcount
            if used != 1:
                raise BadTotpCode(username)
            left = len(conn.execute(select(recovery_codes.c.id).where(
                recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None))).all())
            audit(conn, actor=username, action="totp.recovery-code", target=username, new={"left": left})
        return left

    def reset(self, username: str, *, actor: str) -> None:
        """Forget the enrolment (a lost phone): the next login enrols again."""
        with self.db.writer.begin() as conn:
            user_id = self._user_id(conn, username)
            conn.execute(delete(totp_factors).where(totp_factors.c.user_id == user_id))
            conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
            audit(conn, actor=actor, action="totp.reset", target=username)
