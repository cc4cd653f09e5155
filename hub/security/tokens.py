"""Conversation tokens: scoped to one conversation of one bot, signed, with an expiry.

``ct_<payload>.<signature>`` where the payload is base64url("conversation|bot|expiry") and
the signature is HMAC-SHA256 over the payload with the hub's token key. Checking one
needs no database read; comparing signatures is constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from hub.errors import Unauthorized

TOKEN_PREFIX = "ct_"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    conversation_id: str
    bot_id: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the token key must be at least 32 bytes")
        self._key = key

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def sign_link(self, subject: str, expires: int) -> str:
        """The signature of a link to ``subject`` that works until ``expires`` (UNIX)."""
        return self._sign(f"link|{subject}|{expires}")

    def link_is_valid(self, subject: str, expires: str, signature: str, now: datetime) -> bool:
        if not (expires.isascii() and expires.isdigit()) or int(expires) < now.timestamp():
            return False
        return hmac.compare_digest(self.sign_link(subject, int(expires)), signature)

    def issue(self, conversation_id: str, bot_id: str, expires_at: datetime) -> str:
        payload = _b64(f"{conversation_id}|{bot_id}|{int(expires_at.timestamp())}".encode())
        return f"{TOKEN_PREFIX}{payload}.{self._sign(payload)}"

    def verify(self, token: str, now: datetime) -> TokenClaims:
        if not token.startswith(TOKEN_PREFIX) or token.count(".") != 1:
            raise Unauthorized("the conversation token is malformed", code="invalid_token")
        payload, signature = token[len(TOKEN_PREFIX) :].split(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            raise Unauthorized("the conversation token is not valid", code="invalid_token")
        try:
            conversation_id, bot_id, expiry = _unb64(payload).decode("ascii").split("|")
            expires_at = int(expiry)
        except ValueError:
            raise Unauthorized(
                "the conversation token is malformed", code="invalid_token"
            ) from None
        if now.timestamp() >= expires_at:
            raise Unauthorized("the conversation token has expired", code="token_expired")
        return TokenClaims(conversation_id, bot_id, expires_at)
