"""Typed errors between the hub and provider adapters.

An adapter raises these from its calls; the hub reacts to the type: a refusal or an
unavailable provider moves the escalation along the chain, a transient error is retried,
an auth error marks the instance unhealthy. Anything else an adapter raises is treated
as a crash of that call: logged, and handled like a transient error, never fatal to the hub.

The context raises the last two when an adapter reports on a conversation it does not own.

Every refusal over HTTP, the hub's and an adapter endpoint's, has one body:
``{"error": {"code", "message", ...}}`` (:func:`error_body`, :func:`error_response`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    """The error envelope: a stable ``code``, a ``message`` for people, any ``details``."""
    return {"error": {"code": code, "message": message, **details}}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **details: Any,
) -> web.Response:
    """A JSON answer with the error envelope and ``status``."""
    return web.json_response(error_body(code, message, **details), status=status, headers=headers)


class ProviderError(Exception):
    """Base of the errors an adapter raises on purpose."""


class ProviderRefused(ProviderError):
    """The provider will not take this conversation (full, filtered, unwanted)."""

    def __init__(self, reason: str = "refused") -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(ProviderError):
    """The provider is closed or has nobody to answer now; ``reason`` says which."""

    def __init__(self, reason: str = "no-agents") -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderTransientError(ProviderError):
    """A failure that may pass (timeout, 5xx, connection refused): try again later."""

    def __init__(self, message: str = "temporary failure", *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ProviderAuthError(ProviderError):
    """The provider rejected our credentials; retrying will not help."""


class ProviderConfigError(ProviderError):
    """The instance's configuration is wrong (raised at load time, names the key)."""


class UnknownConversation(ProviderError):
    """The context was given a conversation this provider instance does not own."""


class ConversationEnded(ProviderError):
    """The conversation is over; nothing more can be said in it."""
