"""Reading request bodies: size first, then JSON, then the schema. Bad input is a 4xx."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.errors import BadRequest, Invalid, TooLarge, UnsupportedMedia
from hub.settings import Limits

M = TypeVar("M", bound=BaseModel)


def describe(exc: ValidationError) -> tuple[str, list[dict[str, Any]]]:
    problems = []
    for error in exc.errors(include_url=False, include_context=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "is required"
        problems.append({"field": field, "message": message})
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    return summary, problems


def validate(model: type[M], data: Any, limits: Limits) -> M:
    try:
        return model.model_validate(data, context={"limits": limits})
    except ValidationError as exc:
        summary, problems = describe(exc)
        raise Invalid(summary, fields=problems) from None


async def read_json(request: web.Request, model: type[M], limits: Limits) -> M:
    if request.content_length is not None and request.content_length > limits.max_body_bytes:
        raise TooLarge(f"the request body is larger than {limits.max_body_bytes} bytes")
    content_type = request.content_type
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMedia(
            f"send a JSON body (Content-Type: application/json), not {content_type or 'nothing'}"
        )
    raw = await request.content.read(limits.max_body_bytes + 1)
    if len(raw) > limits.max_body_bytes:
        raise TooLarge(f"the request body is larger than {limits.max_body_bytes} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object")
    return validate(model, data, limits)
