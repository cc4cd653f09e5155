"""Every error leaves the hub as ``{"error": {"code", "message"}}`` with a fitting status."""

from __future__ import annotations

import logging

from aiohttp import web

from hub.api.registry import Handler
from hub.db import database_unavailable
from hub.errors import HubError
from providers.errors import error_response

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as exc:
        return error_response(exc.status, exc.code, exc.message, **exc.details)
    except web.HTTPRequestEntityTooLarge:  # aiohttp keeps no size on it: the request has it
        return error_response(
            413, "too_large", f"the request body is larger than {request.client_max_size} bytes"
        )
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith(("/v1/", "/providers/")):
            raise
        message = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
        response = error_response(exc.status, _CODES.get(exc.status, "error"), message)
        if "Allow" in exc.headers:  # 405: the methods the resource does serve
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        if database_unavailable(exc):
            log.exception("database unavailable while serving %s %s", request.method, request.path)
            return error_response(503, "unavailable", "the database is unavailable; try again")
        log.exception("unexpected error while serving %s %s", request.method, request.path)
        return error_response(500, "internal_error", "the hub failed to handle this request")
