"""Absolute, expiring links to stored files, for provider platforms
(``ProviderContext.media_link``): ``{public_base_url}/files/{id}?expires=UNIX&signature=S``,
signed with the hub's token key. Anyone holding the link can download that one file
until it expires; nothing else is needed, and nothing else is opened by it."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from yarl import URL

from hub import keys
from hub.clock import Clock
from hub.errors import Forbidden, NotFound
from hub.security.tokens import TokenSigner
from hub.store.media import get_media

routes = web.RouteTableDef()
PATH = "/files/{media_id}"


def media_link(tokens: TokenSigner, clock: Clock, base: str, media_id: str, ttl: float) -> str:
    """A link to ``media_id`` under ``base`` (the hub's public address), valid ``ttl`` s."""
    if ttl <= 0:
        raise ValueError("ttl must be more than 0 seconds")
    expires = int(clock.now().timestamp() + ttl)
    signature = tokens.sign_link(media_id, expires)
    return str(
        URL(f"{base}/files/{quote(media_id)}").with_query(expires=str(expires), signature=signature)
    )


@routes.get(PATH)
async def linked_file(request: web.Request) -> web.Response:
    media_id = request.match_info["media_id"]
    app = request.app
    if not app[keys.TOKENS].link_is_valid(
        media_id,
        request.query.get("expires", ""),
        request.query.get("signature", ""),
        app[keys.CLOCK].now(),
    ):
        raise Forbidden("this link is not valid, or it has expired", code="invalid_link")
    async with app[keys.DATABASE].read() as conn:
        stored = await get_media(media_id, conn=conn, content=True)
    if stored is None:
        raise NotFound(f"file {media_id!r} does not exist")
    return web.Response(
        body=stored.content,
        content_type=stored.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=300",
        },
    )
