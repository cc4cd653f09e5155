"""Identifiers: a short prefix naming the kind, then 16 random base32 characters (80 bits)."""

from __future__ import annotations

import base64
import os


def new_id(prefix: str) -> str:
    return prefix + "_" + base64.b32encode(os.urandom(10)).decode("ascii").lower()
