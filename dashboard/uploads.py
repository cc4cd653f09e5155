"""Files: an agent sends one into the chat; agents download the files of a conversation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from dashboard.access import open_conversation, require_action
from dashboard.forms import answer, fields, text
from dashboard.presenters import file_size, link, text_to_html
from dashboard.sessions import Signed, signed_in
from hub import keys
from hub.api.downloads import download
from hub.api.media import safe_filename
from hub.api.multipart import Upload
from hub.errors import Invalid, NotFound, UnsupportedMedia
from hub.store.media import get_media

routes = web.RouteTableDef()
# Shown in the browser; everything else is downloaded.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@routes.post("/conversations/{conversation_id}/files", name="files")
@signed_in
async def send_file(request: web.Request, signed: Signed) -> web.StreamResponse:
    """Store the file as the agent's (``uploader="agent"``), then send it as a message."""
    opened = await open_conversation(request, signed, request.match_info["conversation_id"])
    desk = require_action(opened, signed)
    hub = request.config_dict
    limits = hub[keys.SETTINGS].limits
    if not request.content_type.startswith("multipart/"):
        raise UnsupportedMedia("send the file as multipart/form-data with a 'file' field")
    form = await fields(request)
    upload = form.get("file")
    if not isinstance(upload, Upload):
        raise Invalid("file: choose a file to send")
    content_type = upload.content_type
    if content_type not in limits.upload_types:
        raise UnsupportedMedia(
            f"files of type {content_type or 'unknown'} are not accepted "
            f"(accepted: {', '.join(limits.upload_types)})",
            code="file_type_not_allowed",
        )
    content = upload.content
    if not content:
        raise Invalid("file: is empty")
    said = _caption(form, limits.max_message_chars)
    stored = await hub[keys.SERVICE].store_media(
        opened.id,
        uploader="agent",
        name=safe_filename(upload.filename),
        content_type=content_type,
        content=content,
    )
    media_id = str(stored["id"])
    message_id = await desk.reply(signed.agent.id, opened.id, text_to_html(said), media_id=media_id)
    size = int(stored["size"])
    media = {
        "id": media_id,
        "name": stored["name"],
        "size": size,
        "size_label": file_size(size),
        "url": link(request, "media", media_id=media_id),
    }
    return answer(
        request,
        {
            "message": {
                "id": message_id,
                "author": "agent",
                "text": said,
                "media": media,
                "tick": "delivered",
            }
        },
        to=link(request, "conversation", conversation_id=opened.id),
        status=201,
    )


def _caption(form: Mapping[str, Any], limit: int) -> str:
    return text({"message": form.get("message", "")}, "message", limit=limit, required=False)


@routes.get("/media/{media_id}", name="media")
@signed_in
async def media(request: web.Request, signed: Signed) -> web.StreamResponse:
    """A file of a conversation this agent may read."""
    async with request.config_dict[keys.DATABASE].read() as conn:
        stored = await get_media(request.match_info["media_id"], conn=conn, content=True)
    if stored is None:
        raise NotFound("this file does not exist")
    await open_conversation(request, signed, stored.conversation_id)
    return download(stored, max_age=3600, inline=stored.content_type in INLINE_TYPES)
