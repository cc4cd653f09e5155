"""Signed webhooks, both directions: the ``Hub-Signature`` header.

A signed request carries::

    Hub-Signature: t=1764000000,v1=5f0c...e2
    Hub-Event-Id: message.created:m_abc

where ``t`` is the UNIX time of signing and ``v1`` is the lower-case hex
HMAC-SHA256 of ``"{t}.{raw body}"`` under the shared secret. The receiver recomputes it
over the exact bytes it received, compares in constant time, and refuses a timestamp
more than :data:`TOLERANCE_SECONDS` away from its own clock (a captured request cannot
be replayed later). ``Hub-Event-Id`` names the event; it is the same on every retry, so
the receiver can recognise one it has handled already.

A header may carry several ``v1`` values (a sender signing with a new and an old secret
while they rotate), and a receiver may accept several secrets; one match is enough.

These are pure functions: the caller passes the clock (``now``) when it matters.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

SIGNATURE_HEADER = "Hub-Signature"
EVENT_ID_HEADER = "Hub-Event-Id"
EVENT_TYPE_HEADER = "Hub-Event-Type"
SCHEME = "v1"
TOLERANCE_SECONDS = 300

Secret = str | bytes
Problem = Literal["missing", "malformed", "stale", "mismatch"]


class SignatureError(ValueError):
    """A signature was refused; ``problem`` says why, as a short stable word."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem: Problem = problem


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    """A ``Hub-Signature`` header taken apart: its timestamp and its ``v1`` digests."""

    timestamp: int
    digests: tuple[str, ...]


def _key(secret: Secret) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the signing secret is empty")
    return key


def compute(secret: Secret, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}.{body}"`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def sign(secret: Secret | Sequence[Secret], body: bytes, *, timestamp: int | None = None) -> str:
    """The ``Hub-Signature`` header value for ``body``, signed now (or at ``timestamp``).

    With several secrets, the header carries one ``v1`` per secret, in the given order.
    """
    t = int(time.time()) if timestamp is None else timestamp
    digests = [f"{SCHEME}={compute(key, t, body)}" for key in _secrets(secret)]
    return ",".join([f"t={t}", *digests])


def parse(header: str) -> ParsedSignature:
    """Take a header value apart; unknown schemes are ignored. Raises ``SignatureError``."""
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed", f"{SIGNATURE_HEADER}: {part.strip()!r} is not k=v")
        if name == "t":
            if timestamp is not None or not value.isdigit() or not value.isascii():
                raise SignatureError("malformed", f"{SIGNATURE_HEADER}: t must be one integer")
            timestamp = int(value)
        elif name == SCHEME:
            digests.append(value.lower())
    if timestamp is None:
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} has no t=UNIX timestamp")
    if not digests:
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} has no {SCHEME}= signature")
    return ParsedSignature(timestamp, tuple(digests))


def verify(
    secret: Secret | Sequence[Secret],
    body: bytes,
    header: str | None,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check a ``Hub-Signature`` header against the raw ``body``; returns its timestamp.

    Raises ``SignatureError`` when the header is missing or malformed, its timestamp is
    more than ``tolerance`` seconds from ``now`` (either way), or no ``v1`` matches any
    of the secrets. Digests are compared in constant time.
    """
    if not header:
        raise SignatureError("missing", f"the {SIGNATURE_HEADER} header is missing")
    parsed = parse(header)
    clock = time.time() if now is None else now
    if abs(clock - parsed.timestamp) > tolerance:
        raise SignatureError(
            "stale",
            f"the {SIGNATURE_HEADER} timestamp is more than {tolerance} seconds "
            "from the receiver's clock",
        )
    matched = False
    for key in _secrets(secret):
        expected = compute(key, parsed.timestamp, body).encode("ascii")
        for digest in parsed.digests:
            # Every pair is compared, so the time taken does not say which one matched.
            matched |= hmac.compare_digest(expected, digest.encode("utf-8"))
    if not matched:
        raise SignatureError("mismatch", f"the {SIGNATURE_HEADER} does not match the body")
    return parsed.timestamp


def _secrets(secret: Secret | Sequence[Secret]) -> list[Secret]:
    keys: list[Secret] = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    if not keys:
        raise ValueError("no signing secret given")
    return keys
