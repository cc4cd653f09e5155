"""Reading request bodies: size first, then JSON (under the text rules of
:mod:`providers.input_rules`), then the schema. Bad input is a 4xx naming the field."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.errors import BadRequest, Invalid, TooLarge, UnsupportedMedia
from hub.settings import Limits
from providers.input_rules import InputError, loads

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


def refused(exc: InputError) -> BadRequest:
    """The 400 for an input that breaks a text or JSON rule; ``field`` names where."""
    details = {"field": exc.field} if exc.field else {}
    return BadRequest(str(exc), code=exc.code, **details)


def decode(raw: bytes | str) -> Any:
    """A JSON document under the hub's rules (depth, duplicate keys, numbers, text)."""
    try:
        return loads(raw)
    except InputError as exc:
        raise refused(exc) from None


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body (it may arrive in many reads), refusing one longer than ``limit``."""
    body = bytearray()
    while chunk := await request.content.read(limit + 1 - len(body)):
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the request body is larger than {limit} bytes")
    return bytes(body)


async def read_json(request: web.Request, model: type[M], limits: Limits) -> M:
    if request.content_length is not None and request.content_length > limits.max_body_bytes:
        raise TooLarge(f"the request body is larger than {limits.max_body_bytes} bytes")
    content_type = request.content_type
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMedia(
            f"send a JSON body (Content-Type: application/json), not {content_type or 'nothing'}"
        )
    raw = await read_body(request, limits.max_body_bytes)
    data = decode(raw)
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object")
    return validate(model, data, limits)
