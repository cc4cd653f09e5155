"""What a dashboard request sends (a form or JSON) and how it is answered (a page or JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from hub.errors import BadRequest, Invalid


def wants_json(request: web.Request) -> bool:
    """The dashboard's script asks for JSON; a plain form post or link wants a page."""
    return "application/json" in request.headers.get("Accept", "")


async def fields(request: web.Request) -> Mapping[str, Any]:
    """The request's fields: a JSON object, or the form (files included)."""
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadRequest("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data
    return await request.post()


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
