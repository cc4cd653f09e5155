"""What a dashboard request sends (a form or JSON) and how it is answered (a page or JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from dashboard.keys import FIELDS
from hub import keys
from hub.api.bodies import decode, read_body, refused
from hub.api.multipart import read_multipart
from hub.errors import BadRequest, Invalid
from providers.input_rules import InputError, check_text

# A dashboard form or JSON call is small (files are limited by the upload limit instead).
MAX_FORM_BYTES = 256 * 1024


def wants_json(request: web.Request) -> bool:
    """The dashboard's script asks for JSON; a plain form post or link wants a page."""
    return "application/json" in request.headers.get("Accept", "")


async def fields(request: web.Request) -> Mapping[str, Any]:
    """The request's fields: a JSON object (read by the API's rules), a form, or a multipart
    form (files as :class:`hub.api.multipart.Upload`); every text in them follows the text
    rules, or the answer is a 400. Read once per request (the CSRF check reads it first)."""
    if FIELDS in request:
        return request[FIELDS]
    if request.content_type == "application/json":
        data = decode(await read_body(request, MAX_FORM_BYTES))
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        found: Mapping[str, Any] = data
    elif request.content_type == "multipart/form-data":
        limit = request.config_dict[keys.SETTINGS].limits.max_upload_bytes
        found = await read_multipart(request, max_file_bytes=limit)
    else:
        found = await _urlencoded(request)
    request[FIELDS] = found
    return found


async def _urlencoded(request: web.Request) -> Mapping[str, Any]:
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the form cannot be read: {exc}", code="invalid_form") from None
    try:
        for name, value in form.items():
            check_text(name, "form")
            check_text(str(value), name)
    except InputError as exc:
        raise refused(exc) from None
    return form


def text(data: Mapping[str, Any], name: str, *, limit: int, required: bool = True) -> str:
    """A text field, stripped; 422 when it is missing (if required), not text, or too long."""
    value = data.get(name, "")
    if not isinstance(value, str):
        raise Invalid(f"{name}: must be text")
    value = value.strip()
    if required and not value:
        raise Invalid(f"{name}: is required")
    if len(value) > limit:
        raise Invalid(f"{name}: is longer than {limit} characters")
    return value


def flag(data: Mapping[str, Any], name: str) -> bool:
    """A yes/no field: JSON true/false, or a form's "true"/"false" (422 otherwise)."""
    value = data.get(name, False)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise Invalid(f"{name}: must be true or false")


def listed(value: str) -> list[str]:
    """Comma- or line-separated words ("billing, returns") as a list."""
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def answer(
    request: web.Request, data: Mapping[str, Any], *, to: str, status: int = 200
) -> web.Response:
    """JSON for the script; otherwise back to a page (post, redirect, get)."""
    if wants_json(request):
        return web.json_response(dict(data), status=status)
    raise web.HTTPSeeOther(to)
