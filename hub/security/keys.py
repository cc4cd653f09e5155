"""Bot secret keys. A key is 256 random bits; only its SHA-256 is stored.

A fast hash is the right one here (unlike passwords): the key is random and long, so
the hash cannot be guessed backwards, and every API call can check it cheaply.
"""

from __future__ import annotations

import hashlib
import secrets

SECRET_PREFIX = "sk_"


def new_bot_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
