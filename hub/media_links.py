"""Absolute, expiring links to stored files, for provider platforms
(``ProviderContext.media_link``): ``{public_base_url}/files/{id}?expires=UNIX&signature=S``,
signed with the hub's token key. Anyone holding the link can download that one file
until it expires; nothing else is needed, and nothing else is opened by it."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from yarl import URL

from hub import keys
from hub.api.downloads import download, stored_file
from hub.clock import Clock
from hub.errors import Forbidden
from hub.security.tokens import TokenSigner

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
    return download(await stored_file(app[keys.DATABASE], media_id), max_age=300)
