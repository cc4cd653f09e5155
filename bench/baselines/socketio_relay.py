"""What a team would otherwise build: a python-socketio relay that persists nothing.

Chatbots connect with ``auth = {"conversation": id}`` and join that conversation's room;
agents emit ``message`` events (``{"id", "conversation", "message"}``) with an
acknowledgement callback; the server emits the hub's envelope, with a per-conversation
seq, as an ``event`` to the room and acknowledges the agent.

    python -m bench.baselines.socketio_relay PORT
"""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import socketio
from aiohttp import web

from bench.baselines import run

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[])
seqs: defaultdict[str, int] = defaultdict(int)


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None) -> None:
    if auth and auth.get("conversation"):
        await sio.enter_room(sid, auth["conversation"])


@sio.on("message")
async def message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    conversation = data["conversation"]
    seqs[conversation] += 1
    envelope = {
        "seq": seqs[conversation],
        "conversationId": conversation,
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "action": "displayChatbotMessage",
        "data": {"type": "answer", "message": data["message"]},
    }
    await sio.emit("event", envelope, room=conversation)
    return {"ack": data["id"]}


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    sio.attach(app)
    app.router.add_get("/healthz", healthz)
    run(app, int(sys.argv[1]))


if __name__ == "__main__":
    main()
