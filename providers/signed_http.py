"""Signed HTTP calls to configured URLs: the address is checked before connecting, the
body is signed (``Hub-Signature``), and the answer is read into an :class:`Answer` whose
failures map to the SDK's typed errors.

One call is one attempt: retries, ordering and dead letters belong to whoever calls
(the hub's outbox). Network failures, timeouts, 408/425/429 and 5xx are transient
(``Retry-After`` is passed on); 401/403 are auth errors; a redirect (never followed: it
could lead anywhere) and the other 4xx are refusals; a destination inside the network is
refused unless allowed. Used by the webhook adapter and by the hub's bot callbacks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson
from yarl import URL

from providers.errors import (
    ProviderAuthError,
    ProviderRefused,
    ProviderTransientError,
)
from providers.net import ForbiddenAddress, resolve
from providers.signing import SIGNATURE_HEADER, sign

MAX_ANSWER_BYTES = 64 * 1024
MAX_RETRY_AFTER = 3600.0
TRANSIENT_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Answer:
    """The platform's answer: its status and its JSON body (None if empty or not JSON)."""

    status: int
    body: Any
    retry_after: float | None = None
    party: str = "the platform"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        """``error.code`` of a ``{"error": {"code", "message"}}`` body, if it has one."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        return code if isinstance(code, str) else None

    def describe(self) -> str:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        detail = self.error_code or ""
        if isinstance(message, str):
            detail = f"{detail}: {message}" if detail else message
        return f"HTTP {self.status}" + (f" ({detail[:200]})" if detail else "")

    def raise_for_status(self) -> None:
        """Raise the SDK error this answer means; nothing for a 2xx."""
        if self.ok:
            return
        if self.status in (401, 403):
            raise ProviderAuthError(
                f"{self.party} rejected the hub's credentials: {self.describe()}"
            )
        if self.status >= 500 or self.status in TRANSIENT_STATUSES:
            raise ProviderTransientError(
                f"{self.party} answered {self.describe()}", retry_after=self.retry_after
            )
        if 300 <= self.status < 400:
            raise ProviderRefused(f"{self.party} answered a redirect (HTTP {self.status})")
        raise ProviderRefused(f"{self.party} refused: {self.describe()}")


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), within [0, 1h]."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def encode(payload: Any) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed and sent."""
    return orjson.dumps(payload)


Authorize = Callable[[bytes], dict[str, str]]


def signature(secret: Callable[[], str]) -> Authorize:
    """Authorise a call with ``Hub-Signature`` over its body (the hub's webhooks)."""
    return lambda body: {SIGNATURE_HEADER: sign(secret(), body)}


def bearer(token: Callable[[], str]) -> Authorize:
    """Authorise a call with ``Authorization: Bearer <token>`` (an API's key)."""
    return lambda body: {"Authorization": f"Bearer {token()}"}


class OutboundClient:
    """Calls a configured URL: the address is checked and pinned, ``authorize`` adds the
    credentials for the body, and the answer is read. ``party`` names the other side in
    error messages ("the platform", "Chatlayer")."""

    def __init__(
        self,
        http: Callable[[], aiohttp.ClientSession],
        *,
        authorize: Authorize,
        timeout: float,
        allow_private: bool,
        logger: logging.Logger,
        party: str = "the platform",
    ) -> None:
        self._http = http
        self._authorize = authorize
        self.timeout = timeout
        self.allow_private = allow_private
        self.logger = logger
        self.party = party

    async def call(
        self, method: str, url: str | URL, body: bytes, headers: dict[str, str]
    ) -> Answer:
        try:
            destination = await resolve(url, allow_private=self.allow_private)
        except ForbiddenAddress as exc:
            raise ProviderRefused(f"refusing to call {url}: {exc}") from None
        except OSError as exc:
            raise ProviderTransientError(f"cannot resolve {url}: {exc}") from None
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        failure: Exception | None = None
        for pinned in destination.pinned():
            sent = {**headers, "Host": pinned.host, **self._authorize(body)}
            try:
                async with self._http().request(
                    method,
                    pinned.url,
                    data=body if method != "GET" else None,
                    headers=sent,
                    server_hostname=pinned.server_hostname,
                    allow_redirects=False,
                    timeout=timeout,
                ) as response:
                    answer = Answer(
                        response.status,
                        await _json(response),
                        retry_after(response.headers.get("Retry-After")),
                        self.party,
                    )
            except aiohttp.ClientConnectorError as exc:
                failure = exc  # this address does not answer; try the next one
                continue
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise ProviderTransientError(f"{method} {url} failed: {_describe(exc)}") from None
            self.logger.debug("%s %s -> %s", method, url, answer.status)
            return answer
        raise ProviderTransientError(f"{method} {url} failed: {_describe(failure)}")


async def _json(response: aiohttp.ClientResponse) -> Any:
    raw = bytearray()
    async for chunk in response.content.iter_chunked(16 * 1024):
        raw += chunk
        if len(raw) > MAX_ANSWER_BYTES:
            return None  # an answer this large is not one of ours: ignore its body
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no address answered"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
