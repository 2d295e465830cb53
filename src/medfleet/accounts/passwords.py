"""Password hashing with Argon2id (argon2-cffi); the cost is a setting so tests can lower it."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


def make_hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    """An Argon2id hasher with the given cost (argon2-cffi's defaults: 3 and 65536 KiB)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def hash_password(hasher: PasswordHasher, password: str) -> str:
    """The encoded Argon2id hash of ``password`` (salt and parameters included)."""
    return hasher.hash(password)


def password_matches(hasher: PasswordHasher, encoded: str, password: str) -> bool:
    """True when ``password`` matches ``encoded``; a malformed hash never matches."""
    try:
        return hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False
