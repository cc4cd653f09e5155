"""Identifiers: a short prefix naming the kind, then 24 characters of base32 (120 bits).

The first 48 bits are the time in milliseconds and the other 72 are random, in base32hex
(``0-9a-v``, whose order is the bytes' order): ids made later sort later. Rows keyed by
them are appended at the end of their indexes instead of anywhere in them, which keeps a
busy database's writes to a few pages. Ids are names, not secrets: what is private is
behind tokens and keys.
"""

from __future__ import annotations

import base64
import os
import time

_pool = b""


def _random_bytes(count: int) -> bytes:
    """Randomness taken from the OS in blocks (one system call per 113 ids)."""
    global _pool
    if len(_pool) < count:
        _pool = os.urandom(1024)
    taken, _pool = _pool[:count], _pool[count:]
    return taken


def new_id(prefix: str) -> str:
    stamp = time.time_ns() // 1_000_000
    raw = stamp.to_bytes(6, "big") + _random_bytes(9)
    return prefix + "_" + base64.b32hexencode(raw).decode("ascii").lower()
