"""CORS for browser widgets on other origins.

The v1 API authenticates with bearer credentials or a public bot id checked against the
bot's allowed origins, never with cookies; so answering a preflight for any origin is
safe: whether the real call is allowed is decided by its credentials.
"""

from __future__ import annotations

from aiohttp import web

from hub.api.registry import Handler

ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Bot-Id, Last-Event-ID"


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if origin is None or not request.path.startswith("/v1/"):
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            },
        )
    response = await handler(request)
    if not response.prepared:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response
