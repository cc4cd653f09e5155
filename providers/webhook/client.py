"""Signed calls to the platform (see :mod:`providers.signed_http` for what failures mean)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from providers.signed_http import Answer, OutboundClient, encode, retry_after, signature
from providers.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER
from providers.webhook.config import WebhookConfig

__all__ = ["Answer", "PlatformClient", "encode", "retry_after"]


class PlatformClient:
    def __init__(
        self,
        config: WebhookConfig,
        http: Callable[[], aiohttp.ClientSession],
        logger: logging.Logger,
    ) -> None:
        self.config = config
        self.logger = logger
        self._client = OutboundClient(
            http,
            authorize=signature(lambda: config.secret.get_secret_value()),
            timeout=config.timeout_seconds,
            allow_private=config.allow_private_network,
            logger=logger,
        )

    async def post(self, event: dict[str, Any]) -> Answer:
        """POST one signed event to the configured URL; one attempt."""
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: event["id"],
            EVENT_TYPE_HEADER: event["type"],
        }
        return await self.call("POST", self.config.url, encode(event), headers)

    async def get(self, url: str) -> Answer:
        """A signed GET (the signature covers an empty body)."""
        return await self.call("GET", url, b"", {"Accept": "application/json"})

    async def call(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        return await self._client.call(method, url, body, headers)
