"""Every request: its id (for the logs and the answer), its duration, and open streams.

The request id is the caller's ``X-Request-Id`` when it is a plain token (a load balancer's
id, say), otherwise a new one; it is sent back in ``X-Request-Id`` on every answer,
streams included, and every log line written while the request is handled carries it.

Durations are counted by the route's pattern (``/v1/conversations/{conversation_id}``),
never the raw path, so ids do not become labels; a path no route matches is
``unmatched``. Streams are counted apart, while they are open: WebSockets and
Server-Sent Events once the answer is under way, and a long-poll while it waits; their
durations say nothing about the hub's speed, so they stay out of the request histogram.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time

from aiohttp import web

from hub import keys
from hub.api.registry import Handler
from hub.telemetry import context

REQUEST_ID_HEADER = "X-Request-Id"
_GOOD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
# New ids: this process's random prefix and a counter (unique across processes, and cheap).
_ID_PREFIX = secrets.token_hex(6)
_ids = itertools.count(1)
# Who is on the other end of a stream, by where it is served.
_CLIENTS = (("/v1/", "chatbot"), ("/dashboard/", "agent"), ("/providers/", "provider"))

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id")
_STREAM: web.RequestKey[tuple[str, str]] = web.RequestKey("stream")  # (client, transport)
_STREAM_OPEN: web.RequestKey[bool] = web.RequestKey("stream_open")


def route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _client(path: str) -> str:
    return next((client for prefix, client in _CLIENTS if path.startswith(prefix)), "other")


def _transport(request: web.Request, route: str) -> str | None:
    """How this request streams, if it does."""
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return "websocket"
    api = request.app.get(keys.API)
    if api is None or route not in api.streaming_paths:
        return None
    if "text/event-stream" in request.headers.get("Accept", ""):
        return "sse"
    return "long-poll" if request.query.get("wait", "0") not in ("", "0") else None


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER)
    if given is not None and _GOOD_ID.match(given):
        return given
    return f"{_ID_PREFIX}-{next(_ids):x}"


def _opened(request: web.Request, client: str, transport: str) -> None:
    # config_dict: on_response_prepare may see a sub-app (the dashboard) as request.app.
    metrics = request.config_dict[keys.METRICS]
    metrics.streams.labels(client, transport).inc()
    metrics.streams_opened.labels(client, transport).inc()
    request[_STREAM_OPEN] = True


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    request_id = request[REQUEST_ID] = _request_id(request)
    token = context.start(request_id)
    route = route_of(request)
    transport = _transport(request, route)
    if transport is not None:
        client = _client(request.path)
        request[_STREAM] = (client, transport)
        if transport == "long-poll":
            _opened(request, client, transport)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away (nginx's code for it)
        raise
    finally:
        metrics = request.app[keys.METRICS]  # the app whose middleware this is
        if request.get(_STREAM_OPEN):
            metrics.streams.labels(*request[_STREAM]).dec()
        elif transport is None or status >= 400:
            metrics.request_done(request.method, route, status, time.perf_counter() - started)
        context.finish(token)


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer gets the request id as its headers go out (streams send theirs from
    inside the handler); a WebSocket or event stream under way is counted from now."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers.setdefault(REQUEST_ID_HEADER, request_id)
    stream = request.get(_STREAM)
    if stream is None or request.get(_STREAM_OPEN):
        return
    client, transport = stream
    if (transport == "websocket" and response.status == 101) or (
        transport == "sse" and response.content_type == "text/event-stream"
    ):
        _opened(request, client, transport)
