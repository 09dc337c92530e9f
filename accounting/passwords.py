"""PIN and password hashing with Argon2id (memory-hard). Clear values are never stored
or logged; only the encoded hash (which carries its own parameters and salt) is kept."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: Production cost: 64 MiB, 3 passes. Tests build a cheaper hasher with ``fast_hasher``.
DEFAULT_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)


def fast_hasher() -> PasswordHasher:
    """A low-cost hasher for tests and benchmarks; never for production data."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class SecretHasher:
    def __init__(self, hasher: PasswordHasher | None = None):
        self.hasher = hasher or DEFAULT_HASHER

    def hash(self, clear: str) -> str:
        if not clear:
            raise ValueError("an empty PIN or password cannot be set")
        return self.hasher.hash(clear)

    def verify(self, encoded: str | None, clear: str) -> bool:
        if not encoded or clear is None:
            return False
        try:
            return self.hasher.verify(encoded, clear)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
