"""The routes the platform calls: ``POST /events`` (signed events) and ``GET /media/{id}``
(the user's files, by signed link). The hub mounts them under ``/providers/{instance}/``.

Every refusal is ``{"error": {"code", "message"}}`` and changes nothing: the signature
is checked on the raw bytes before anything is parsed, and the body is fully validated
before the hub is told anything.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from aiohttp import web

from providers.context import ProviderContext
from providers.errors import ConversationEnded, UnknownConversation
from providers.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, SignatureError, verify
from providers.webhook import incoming
from providers.webhook.config import WebhookConfig
from providers.webhook.media_links import link_is_valid


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class TooLarge(Exception):
    pass


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refusing one larger than ``limit`` bytes without reading it all."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


class Endpoint:
    """The inbound routes of one webhook instance."""

    def __init__(self, config: WebhookConfig, context: ProviderContext) -> None:
        self.config = config
        self.context = context

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/events", self.events), web.get("/media/{media_id}", self.media)]

    async def events(self, request: web.Request) -> web.Response:
        try:
            body = await read_body(request, self.config.max_event_bytes)
        except TooLarge:
            return error(
                413, "too_large", f"events are limited to {self.config.max_event_bytes} bytes"
            )
        try:
            verify(self.config.secrets, body, request.headers.get(SIGNATURE_HEADER))
        except SignatureError as exc:
            return error(401, f"signature_{exc.problem}", str(exc))
        try:
            payload = incoming.decode(body)
        except incoming.InputError as exc:
            return error(400, exc.code, str(exc))
        try:
            event = incoming.parse(payload, request.headers.get(EVENT_ID_HEADER))
        except incoming.Invalid as exc:
            return error(422, "invalid_event", str(exc))
        try:
            extra = await event.apply(self.context)
        except UnknownConversation as exc:
            return error(404, "unknown_conversation", str(exc))
        except ConversationEnded as exc:
            return error(409, "conversation_ended", str(exc))
        except incoming.Invalid as exc:
            return error(422, "invalid_event", str(exc))
        self.context.logger.debug(
            "event %s (%s) for %s", event.id, event.type, event.conversation_id
        )
        return web.json_response({"ok": True, "id": event.id, **extra})

    async def media(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        if not link_is_valid(
            self.config.secrets,
            media_id,
            request.query.get("expires", ""),
            request.query.get("signature", ""),
            now=time.time(),
        ):
            return error(403, "invalid_link", "this link is not valid, or it has expired")
        try:
            info, content = await self.context.read_media(media_id)
        except UnknownConversation:
            return error(404, "not_found", f"no file {media_id!r}")
        return web.Response(
            body=content,
            headers={
                "Content-Type": info.content_type,
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.name)}",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, max-age=300",
            },
        )
