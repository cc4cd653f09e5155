"""Rate limits on the v1 API and the provider ingresses (``/providers/{instance}/...``).

Each request takes one token from up to three buckets: its address's, its bot key's (the
secret key, or the public id a browser sends) and its conversation token's (as a header
or ``?token=``). A bucket holds ``burst`` tokens and refills at ``per_second``; a request
that finds one empty is answered ``429 rate_limited`` with ``Retry-After`` (whole seconds)
and goes no further. Buckets live in the process: with several hub processes behind a
load balancer, each process allows its share. ``per_second = 0`` switches a limit off.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

from aiohttp import web

from hub import keys
from hub.api.registry import Handler
from hub.security.keys import SECRET_PREFIX
from hub.security.tokens import TOKEN_PREFIX
from hub.settings import RateLimit, RateLimits
from providers.errors import error_response

LIMITED_PATHS = ("/v1/", "/providers/")
MAX_KEYS = 100_000  # buckets kept per limit; past that, full (idle) ones are dropped


class Buckets:
    """Token buckets by key for one limit."""

    def __init__(self, limit: RateLimit, *, max_keys: int = MAX_KEYS) -> None:
        self.rate = limit.per_second
        self.burst = float(limit.burst)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at); LRU order

    def take(self, key: str, now: float) -> float:
        """0 when ``key`` may go on (a token is taken), else the seconds until it may."""
        found = self._buckets.pop(key, None)
        tokens = self.burst
        if found is not None:
            tokens = min(self.burst, found[0] + (now - found[1]) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self._prune(now)
        return wait

    def _prune(self, now: float) -> None:
        """Drop the buckets that have refilled (as good as absent), then the oldest."""
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        excess = len(self._buckets) - self.max_keys // 2
        for key in list(self._buckets)[: max(excess, 0)]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def _hashed(credential: str) -> str:
    return hashlib.blake2b(credential.encode(), digest_size=12).hexdigest()


class RateLimiter:
    """The three limits of one hub process, and which of them a request falls under."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.per_address = Buckets(limits.per_address) if limits.per_address.per_second else None
        self.per_bot = Buckets(limits.per_bot) if limits.per_bot.per_second else None
        self.per_conversation = (
            Buckets(limits.per_conversation) if limits.per_conversation.per_second else None
        )

    def check(self, request: web.Request) -> tuple[float, str]:
        """(seconds to wait, what was limited); (0, "") when the request may go on."""
        now = self.clock()
        if self.per_address is not None:
            wait = self.per_address.take(request.remote or "unknown", now)
            if wait:
                return wait, "this address"
        credential = _bearer(request) or request.query.get("token", "")
        if self.per_bot is not None:
            bot = None
            if credential.startswith(SECRET_PREFIX):
                bot = _hashed(credential)
            elif public_id := request.headers.get("X-Bot-Id"):
                bot = "id:" + public_id[:100]
            if bot is not None and (wait := self.per_bot.take(bot, now)):
                return wait, "this bot key"
        if self.per_conversation is not None and credential.startswith(TOKEN_PREFIX):
            wait = self.per_conversation.take(_hashed(credential), now)
            if wait:
                return wait, "this conversation token"
        return 0.0, ""


def _bearer(request: web.Request) -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(LIMITED_PATHS):
        return await handler(request)
    wait, what = request.app[keys.RATE_LIMITER].check(request)
    if not wait:
        return await handler(request)
    seconds = max(1, math.ceil(wait))
    response = error_response(
        429,
        "rate_limited",
        f"too many requests from {what}; try again in {seconds} s",
        retryAfter=seconds,
    )
    response.headers["Retry-After"] = str(seconds)
    return response
