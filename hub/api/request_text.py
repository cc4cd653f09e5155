"""The text rules (:mod:`providers.input_rules`) for what a request carries besides its body:
path parameters, the query string and the headers the hub reads.

A ``%00`` in a query or a path, or a header byte that is not UTF-8 (aiohttp hands it on as
a lone surrogate), is a 400 naming the parameter before any handler looks it up.
"""

from __future__ import annotations

from aiohttp import web

from hub.api.bodies import refused
from hub.api.registry import Handler
from providers.input_rules import InputError, check_text

# Headers some handler reads (a bot key, an idempotency key, a platform's event id, ...).
READ_HEADERS = (
    "Authorization",
    "X-Bot-Id",
    "Idempotency-Key",
    "Last-Event-ID",
    "Origin",
    "Hub-Event-Id",
    "Hub-Signature",
    "X-CSRF-Token",
)


def check_request_text(request: web.Request) -> None:
    """Raises the 400 for the first parameter that is not storable text."""
    try:
        for name, value in request.match_info.items():
            check_text(value, name)
        for name, value in request.query.items():
            check_text(name, "query")
            check_text(value, name)
        for name in READ_HEADERS:
            header = request.headers.get(name)
            if header is not None:
                check_text(header, name)
    except InputError as exc:
        raise refused(exc) from None


@web.middleware
async def request_text_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    check_request_text(request)
    return await handler(request)
