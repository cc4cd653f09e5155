"""A stored file as a download: the API's files and the signed links' files alike."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from hub.db import Database
from hub.errors import NotFound
from hub.models import Media
from hub.store.media import get_media


async def stored_file(database: Database, media_id: str) -> Media:
    """The file ``media_id`` with its content; 404 when there is none."""
    async with database.read() as conn:
        stored = await get_media(media_id, conn=conn, content=True)
    if stored is None:
        raise NotFound(f"file {media_id!r} does not exist")
    return stored


def download(stored: Media, *, max_age: int, inline: bool = False) -> web.Response:
    """The file, cached privately ``max_age`` s: an attachment, or shown ``inline``."""
    disposition = "inline" if inline else "attachment"
    return web.Response(
        body=stored.content,
        content_type=stored.content_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(stored.name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": f"private, max-age={max_age}",
        },
    )
