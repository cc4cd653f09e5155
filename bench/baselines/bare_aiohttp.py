"""The ceiling: a bare aiohttp relay that persists nothing.

Chatbots follow ``GET /stream/{conversation}`` (WebSocket). Agents send either over
``GET /agent`` (WebSocket: one JSON frame per message, each acknowledged with
``{"ack": id}``) or with ``POST /send`` (one JSON body per message, answered
``{"ok": true, "id": ...}``). Each message goes out as the hub's envelope, with a per
conversation seq, to every stream of its conversation. Nothing is validated beyond JSON,
nothing sanitised, nothing stored: what is left is the transport.

    python -m bench.baselines.bare_aiohttp PORT
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from datetime import UTC, datetime

from aiohttp import WSMsgType, web

from bench.baselines import run

streams: defaultdict[str, set[web.WebSocketResponse]] = defaultdict(set)
seqs: defaultdict[str, int] = defaultdict(int)


async def relay(message: dict[str, object]) -> None:
    conversation = str(message["conversation"])
    seqs[conversation] += 1
    wire = json.dumps(
        {
            "seq": seqs[conversation],
            "conversationId": conversation,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "action": "displayChatbotMessage",
            "data": {"type": "answer", "message": message["message"]},
        }
    )
    for ws in streams.get(conversation, ()):
        await ws.send_str(wire)


async def stream(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    conversation = request.match_info["conversation"]
    streams[conversation].add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        streams[conversation].discard(ws)
    return ws


async def agent(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for frame in ws:
        if frame.type != WSMsgType.TEXT:
            continue
        message = json.loads(frame.data)
        await relay(message)
        await ws.send_str(json.dumps({"ack": message["id"]}))
    return ws


async def send(request: web.Request) -> web.Response:
    message = await request.json()
    await relay(message)
    return web.json_response({"ok": True, "id": message["id"]})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.router.add_get("/stream/{conversation}", stream)
    app.router.add_get("/agent", agent)
    app.router.add_post("/send", send)
    app.router.add_get("/healthz", healthz)
    run(app, int(sys.argv[1]))


if __name__ == "__main__":
    main()
