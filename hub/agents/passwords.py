"""Password hashing with argon2id (argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with the library's recommended parameters

MIN_LENGTH = 10


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")


async def hash_password(password: str) -> str:
    check_strength(password)
    return await asyncio.to_thread(_HASHER.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(_verify, password_hash, password)


# A hash to verify against when the account does not exist, so a wrong email takes as
# long as a wrong password (the answer does not tell which one was wrong).
_DECOY = _HASHER.hash("offload-hub decoy password")


async def verify_decoy(password: str) -> None:
    await asyncio.to_thread(_verify, _DECOY, password)
