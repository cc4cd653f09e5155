"""Identifiers: a short prefix naming the kind, then 24 characters of base32 (120 bits).

The first 48 bits are the time in milliseconds and the other 72 are random, in base32hex
(``0-9a-v``, whose order is the bytes' order): ids made later sort later. Rows keyed by
them are appended at the end of their indexes instead of anywhere in them, which keeps a
busy database's writes to a few pages. Ids are names, not secrets: what is private is
behind tokens and keys.
"""

from __future__ import annotations

import os
import time

_pool = b""
_DIGITS = "0123456789abcdefghijklmnopqrstuv"  # base32hex, lower case
# Ten bits at a time: 120 bits are twelve lookups (base64.b32hexencode's loop costs more).
_PAIRS = [_DIGITS[i >> 5] + _DIGITS[i & 31] for i in range(1024)]
_SHIFTS = tuple(range(110, -1, -10))


def _random_bytes(count: int) -> bytes:
    """Randomness taken from the OS in blocks (one system call per 113 ids)."""
    global _pool
    if len(_pool) < count:
        _pool = os.urandom(1024)
    taken, _pool = _pool[:count], _pool[count:]
    return taken


def new_id(prefix: str) -> str:
    stamp = time.time_ns() // 1_000_000
    bits = ((stamp & 0xFFFF_FFFF_FFFF) << 72) | int.from_bytes(_random_bytes(9), "big")
    return prefix + "_" + "".join([_PAIRS[(bits >> shift) & 1023] for shift in _SHIFTS])
