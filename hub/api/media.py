"""Files: uploads from the user, downloads of either side's files."""

from __future__ import annotations

import os
import re

from aiohttp import web

from hub import keys
from hub.api.auth import authorize_conversation
from hub.api.conversations import CONVERSATION_AUTH, PATH
from hub.api.downloads import download, stored_file
from hub.api.multipart import MAX_FIELD_BYTES, Upload, read_multipart
from hub.api.registry import ApiRoutes, json_response
from hub.api.schemas import MediaOut, MessageOut
from hub.errors import Invalid, TooLarge, UnsupportedMedia
from hub.settings import Limits

UPLOAD_FIELDS = frozenset({"file", "id", "message"})
_OVERHEAD = 2 * MAX_FIELD_BYTES  # the text fields and the parts' headers beside the file


def safe_filename(name: str | None) -> str:
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = re.sub(r"[\x00-\x1f\x7f]", "", base)
    return base[:255] or "file"


async def _read_upload(request: web.Request, limits: Limits) -> dict[str, object]:
    if not request.content_type.startswith("multipart/"):
        raise UnsupportedMedia("send the file as multipart/form-data with a 'file' field")
    if request.content_length and request.content_length > limits.max_upload_bytes + _OVERHEAD:
        raise TooLarge(f"the file is larger than {limits.max_upload_bytes} bytes")
    form = await read_multipart(
        request, max_file_bytes=limits.max_upload_bytes, files=frozenset({"file"})
    )
    unknown = sorted(form.keys() - UPLOAD_FIELDS)
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field")
    upload = form.get("file")
    if not isinstance(upload, Upload):
        raise Invalid("file: is required")
    if upload.content_type not in limits.upload_types:
        raise UnsupportedMedia(
            f"files of type {upload.content_type or 'unknown'} are not accepted "
            f"(accepted: {', '.join(limits.upload_types)})",
            code="file_type_not_allowed",
        )
    if not upload.content:
        raise Invalid("file: is empty")
    fields: dict[str, object] = {
        "file": upload.content,
        "filename": safe_filename(upload.filename),
        "content_type": upload.content_type,
    }
    message = str(form.get("message", ""))
    if len(message) > limits.max_message_chars:
        raise Invalid(f"message: is longer than {limits.max_message_chars} characters")
    fields["message"] = message
    client_id = form.get("id")
    if client_id is not None:
        if not 1 <= len(str(client_id)) <= 100:
            raise Invalid("id: must be 1 to 100 characters")
        fields["id"] = client_id
    return fields


routes = ApiRoutes()


@routes.route(
    "POST",
    PATH + "/media",
    tag="conversation",
    summary="Upload a file from the user",
    multipart={
        "file": "The file (its part's Content-Type must be an accepted type).",
        "id": "Optional client message id: the file is also sent as a user message.",
        "message": "Optional text of that message.",
    },
    responses={201: MediaOut, 200: MediaOut},
    auth=CONVERSATION_AUTH,
    errors=(400, 401, 403, 404, 409, 413, 415, 422),
)
async def post_media(request: web.Request) -> web.Response:
    """With ``id`` the file goes to the agent as a message (ticks as for any message);
    without it the answer's ``id`` can be attached to a later message (``media.id``)."""
    conversation = await authorize_conversation(request)
    limits = request.app[keys.SETTINGS].limits
    fields = await _read_upload(request, limits)
    service = request.app[keys.SERVICE]
    content = fields["file"]
    assert isinstance(content, bytes)
    name, content_type = str(fields["filename"]), str(fields["content_type"])
    message = None
    status = 201
    if "id" in fields:
        media, stored = await service.upload(
            conversation.id,
            client_id=str(fields["id"]),
            text=str(fields.get("message", "")),
            name=name,
            content_type=content_type,
            content=content,
        )
        message = MessageOut(
            id=str(fields["id"]),
            externalId=stored.external_id,
            seq=stored.seq,
            duplicate=stored.duplicate,
        )
        status = 200 if stored.duplicate else 201
    else:
        media = await service.store_media(
            conversation.id,
            uploader="user",
            name=name,
            content_type=content_type,
            content=content,
        )
    return json_response(
        MediaOut(
            id=str(media["id"]),
            name=str(media["name"]),
            contentType=str(media["content_type"]),
            size=int(media["size"]),
            url=f"/v1/media/{media['id']}",
            message=message,
        ),
        status,
    )


@routes.route(
    "GET",
    "/v1/media/{media_id}",
    tag="conversation",
    summary="Download a file of a conversation",
    query={"token": ("string", "The conversation token, for links a browser opens.")},
    responses={200: "The file, with its type and a download name."},
    auth=CONVERSATION_AUTH,
    errors=(401, 403, 404),
)
async def get_media_file(request: web.Request) -> web.Response:
    stored = await stored_file(request.app[keys.DATABASE], request.match_info["media_id"])
    await authorize_conversation(request, stored.conversation_id, query_token=True)
    return download(stored, max_age=3600)
