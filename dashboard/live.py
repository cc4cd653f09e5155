"""The dashboard's one WebSocket: live events for the agent and for every desk.

The handshake is checked before the upgrade: the ``Origin`` must be the hub's own and the
session cookie must be live. The socket listens on the agent's id and ``desk:<instance>``
audiences of :class:`hub.agents.live.LiveChannel`, and an admin's page watching someone's
chat (``?watch=<conversation id>``) on ``watch:<conversation id>`` too. While it is open
it is the agent's heartbeat, every third of the presence timeout (presence expiry takes
agents whose dashboards vanished offline), and a session that ends closes it with 1008:
at once when it is signed out, replaced by a new sign-in or ended by an admin
(:func:`disconnect`), else at the next heartbeat (expired).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib

from aiohttp import WSMsgType, web

from dashboard.keys import HUB
from dashboard.sessions import check_origin, current
from hub import keys
from hub.agents.live import Listener
from hub.agents.presence import heartbeat_seconds
from hub.agents.workspace import desk_audience, watch_audience
from hub.errors import Unauthorized

routes = web.RouteTableDef()
POLICY_VIOLATION = 1008


def session_audience(token: str) -> str:
    """The audience of the sockets of one signed-in session (by a hash of its cookie)."""
    return "session:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def disconnect(hub: web.Application, audience: str) -> None:
    """Close the sockets of a session that ended (``session_audience``), or of every
    session of an agent (the agent's id), with 1008 "signed out"."""
    hub[keys.LIVE].close(audience, POLICY_VIOLATION)


async def _read(ws: web.WebSocketResponse, listener: Listener) -> None:
    """The page only talks to close; when it goes, the sender is woken up."""
    async for message in ws:
        if message.type == WSMsgType.ERROR:
            break
    listener.close(1000)


@routes.get("/live", name="live")
async def live(request: web.Request) -> web.StreamResponse:
    check_origin(request, required=True)
    signed = await current(request)
    if signed is None:
        raise Unauthorized("sign in first", code="signed_out")
    hub = request.app[HUB]
    accounts = hub[keys.AGENTS]
    channel = hub[keys.LIVE]
    agent_id = signed.agent.id
    beat = heartbeat_seconds(hub[keys.SETTINGS].lifecycle)
    audiences = {
        agent_id,
        session_audience(signed.token),
        *(desk_audience(name) for name in hub[keys.WORKSPACE].desks),
    }
    watched = request.query.get("watch", "")
    if signed.is_admin and 0 < len(watched) <= 60:  # an admin watching someone's chat
        audiences.add(watch_audience(watched))
    ws = web.WebSocketResponse(heartbeat=25.0)
    await ws.prepare(request)
    listener = channel.listen(audiences)
    reader = asyncio.create_task(_read(ws, listener))
    close_code, close_message = 1000, b""
    loop = asyncio.get_running_loop()
    try:
        await accounts.seen(agent_id)
        checked = loop.time()
        await ws.send_json({"type": "hello", "presence": signed.agent.presence})
        while True:
            events = await listener.wait(beat)
            for event in events:
                await ws.send_json(event)
            if listener.closed:
                close_code = listener.close_code or 1000
                if close_code == POLICY_VIOLATION:
                    close_message = b"signed out"
                break
            if loop.time() - checked >= beat:  # still signed in? then still here
                if await accounts.session(signed.token) is None:
                    close_code, close_message = POLICY_VIOLATION, b"signed out"
                    break
                await accounts.seen(agent_id)
                checked = loop.time()
    except ConnectionResetError:
        pass
    finally:
        channel.leave(listener)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    if not ws.closed:
        await ws.close(code=close_code, message=close_message)
    return ws
