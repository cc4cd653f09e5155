"""``GET /v1/conversations/{id}/events``: one log, three transports.

WebSocket when the request upgrades; Server-Sent Events when it accepts
``text/event-stream`` (the SSE ``id`` is the seq, ``Last-Event-ID`` resumes); otherwise a
JSON page ``{events, next}``, long-polling up to ``wait`` seconds for something new.
``after=SEQ`` resumes on every transport. When the hub shuts down, streams end with
WebSocket code 1001 ("going away"); clients reconnect with ``after`` and lose nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp_sse import EventSourceResponse

from hub import keys
from hub.api.auth import authorize_stream
from hub.api.conversations import CONVERSATION_AUTH, PATH
from hub.api.registry import ApiRoutes, json_response
from hub.api.schemas import EventsPageOut
from hub.db import Database
from hub.errors import Invalid
from hub.eventbus import Envelope
from hub.fanout import SocketStream
from hub.store.events import events_after
from hub.streams import Following, backlog, follow
from hub.telemetry.metrics import HubMetrics

log = logging.getLogger(__name__)

MAX_WAIT = 30.0
MAX_PAGE = 1000
MAX_SEQ = 2**31 - 1  # the largest seq the database's column holds


def relayed(metrics: HubMetrics, envelopes: list[Envelope], transport: str) -> None:
    """Relay latency: from this process's commit (or its hearing of another's) to the send."""
    committed = envelopes[-1].committed_at
    if committed is not None:
        metrics.relay_latency(
            time.monotonic() - committed, count=len(envelopes), transport=transport
        )


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name}: must be a whole number") from None
    if not low <= value <= high:
        raise Invalid(f"{name}: must be between {low} and {high}")
    return value


def _resume_point(request: web.Request) -> int:
    after = _int_param(request, "after", -1, 0, MAX_SEQ)
    if after >= 0:
        return after
    last_event_id = request.headers.get("Last-Event-ID", "").strip()
    if last_event_id:
        if (
            not (last_event_id.isascii() and last_event_id.isdigit())
            or int(last_event_id) > MAX_SEQ
        ):
            raise Invalid("Last-Event-ID: must be the seq of an event")
        return int(last_event_id)
    return 0


routes = ApiRoutes()


@routes.route(
    "GET",
    PATH + "/events",
    tag="events",
    summary="The conversation's events: WebSocket, Server-Sent Events or long-poll",
    query={
        "after": (
            {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
            "Resume after this seq (all transports).",
        ),
        "wait": (
            {"type": "integer", "minimum": 0, "maximum": int(MAX_WAIT)},
            "Long-poll: seconds to wait for something new.",
        ),
        "limit": (
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "Long-poll: at most this many events.",
        ),
        "token": ("string", "The conversation token (browsers cannot set headers here)."),
    },
    headers={
        "Last-Event-ID": (
            {"type": "string", "pattern": "^[0-9]{1,10}$"},
            "SSE: resume after this seq.",
        )
    },
    responses={200: EventsPageOut, 101: "WebSocket: one text frame per envelope."},
    auth=CONVERSATION_AUTH,
    errors=(401, 403, 404, 422),
    streams=True,
)
async def get_events(request: web.Request) -> web.StreamResponse:
    """Each envelope is ``{seq, conversationId, at, action, data}``: call
    ``chatBot.actions[action](data)``. Seqs start at 1, have no gaps and never repeat."""
    conversation_id = await authorize_stream(request)
    after = _resume_point(request)
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _websocket(request, conversation_id, after)
    if "text/event-stream" in request.headers.get("Accept", ""):
        return await _sse(request, conversation_id, after)
    return await _long_poll(request, conversation_id, after)


async def _websocket(request: web.Request, conversation_id: str, after: int) -> web.StreamResponse:
    # Envelopes are small JSON: compressing each costs more CPU than it saves.
    ws = web.WebSocketResponse(heartbeat=25.0, autoping=True, compress=False)
    await ws.prepare(request)
    app = request.app
    bus = app[keys.BUS]
    stream = SocketStream(conversation_id, ws, app[keys.FANOUT])
    stream.transport = request.transport
    bus.add(stream)
    try:
        # The backlog, by this handler; what comes live meanwhile waits in the stream.
        async for envelopes in backlog(app[keys.LOG_READER], bus, stream, after):
            for envelope in envelopes:
                await ws.send_str(envelope.wire)
        stream.go_live()
        # The client only talks to close (and answers pings); the fan-out sends the rest.
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
    except ConnectionResetError:
        pass
    finally:
        bus.unsubscribe(stream)
        stream.closed = True
    if not ws.closed:
        await ws.close()
    return ws


async def _sse(request: web.Request, conversation_id: str, after: int) -> web.StreamResponse:
    response = EventSourceResponse()
    response.ping_interval = 15
    await response.prepare(request)
    app = request.app
    metrics = app[keys.METRICS]
    async with Following(app[keys.BUS], conversation_id) as subscription:
        watcher = asyncio.create_task(response.wait())
        watcher.add_done_callback(lambda _: subscription.close(WSCloseCode.OK))
        try:
            async for envelopes in follow(app[keys.LOG_READER], app[keys.BUS], subscription, after):
                for envelope in envelopes:
                    await response.send(envelope.wire, id=str(envelope.seq))
                relayed(metrics, envelopes, "sse")
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            if not watcher.done():
                response.stop_streaming()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    return response


async def _long_poll(request: web.Request, conversation_id: str, after: int) -> web.Response:
    wait = _int_param(request, "wait", 0, 0, int(MAX_WAIT))
    limit = _int_param(request, "limit", 500, 1, MAX_PAGE)
    app = request.app
    database = app[keys.DATABASE]
    bus = app[keys.BUS]
    async with Following(bus, conversation_id) as subscription:
        events = (
            []
            if bus.up_to_date(conversation_id, after)
            else (await _page(database, conversation_id, after, limit))
        )
        if not events and wait > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while not events and not subscription.closed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                arrived = await subscription.wait(remaining)
                if any(envelope.seq > after for envelope in arrived):
                    events = await _page(database, conversation_id, after, limit)
    next_seq = events[-1]["seq"] if events else after
    return json_response(EventsPageOut.model_validate({"events": events, "next": next_seq}))


async def _page(
    database: Database, conversation_id: str, after: int, limit: int
) -> list[dict[str, Any]]:
    async with database.read() as conn:
        page = await events_after(conversation_id, after, conn=conn, limit=limit)
    return [envelope.as_dict() for envelope in page]
