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
# A random byte's low five bits as a digit (256 is a multiple of 32: every digit as likely).
_AS_DIGIT = bytes(ord(_DIGITS[byte & 31]) for byte in range(256))
_stamp = -1  # the millisecond of the last id, and its first nine digits (its 45 high bits)
_stamp_digits = ""


def _random_bytes(count: int) -> bytes:
    """Randomness taken from the OS in blocks (one system call per 68 ids)."""
    global _pool
    if len(_pool) < count:
        _pool = os.urandom(1024)
    taken, _pool = _pool[:count], _pool[count:]
    return taken


def new_id(prefix: str) -> str:
    """The 48 time bits are nine digits and three bits of the tenth (the nine are made once
    a millisecond); the 72 random bits are the tenth's other two and fourteen digits, each
    a random byte's low five bits (``bytes.translate``: no loop in Python)."""
    global _stamp, _stamp_digits
    stamp = (time.time_ns() // 1_000_000) & 0xFFFF_FFFF_FFFF
    if stamp != _stamp:
        _stamp = stamp
        _stamp_digits = "".join([_DIGITS[(stamp >> shift) & 31] for shift in range(43, 2, -5)])
    random = _random_bytes(15)
    tenth = _DIGITS[((stamp & 7) << 2) | (random[0] & 3)]
    return f"{prefix}_{_stamp_digits}{tenth}{random[1:].translate(_AS_DIGIT).decode()}"
