"""The dashboard's one WebSocket: live events for the agent and for every desk, and the
agent's messages and typing the other way.

The handshake is checked before the upgrade: the ``Origin`` must be the hub's own and the
session cookie must be live. The socket listens on the agent's id and ``desk:<instance>``
audiences of :class:`hub.agents.live.LiveChannel`, and an admin's page watching someone's
chat (``?watch=<conversation id>``) on ``watch:<conversation id>`` too. While it is open
it is the agent's heartbeat, every third of the presence timeout (presence expiry takes
agents whose dashboards vanished offline), and a session that ends closes it with 1008:
at once when it is signed out, replaced by a new sign-in or ended by an admin
(:func:`disconnect`), else at the next heartbeat (expired).

What the page sends (JSON text frames, under the hub's JSON rules):

- ``{"type": "message", "conversationId", "ref", "message"}``: the agent's message, the
  same as the form's ``POST .../messages``; answered ``{"type": "sent", "ref",
  "conversationId", "message"}`` once stored, or ``{"type": "refused", "ref", "error"}``;
- ``{"type": "typing", "conversationId", "typing"}``: answered only when refused.

A conversation's messages are stored in the order they were sent; the page need not wait
for one answer before it sends the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from dashboard.conversation import send_reply, send_typing
from dashboard.middleware import failure
from dashboard.sessions import Signed, check_origin, current
from hub import keys
from hub.agents.live import Listener
from hub.agents.presence import heartbeat_seconds
from hub.agents.workspace import desk_audience, watch_audience
from hub.api.bodies import decode
from hub.errors import HubError, Invalid, Unauthorized
from hub.keys import Resources
from providers.errors import error_body

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def session_audience(token: str) -> str:
    """The audience of the sockets of one signed-in session (by a hash of its cookie)."""
    return "session:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def disconnect(hub: Resources, audience: str) -> None:
    """Close the sockets of a session that ended (``session_audience``), or of every
    session of an agent (the agent's id), with 1008 "signed out"."""
    hub[keys.LIVE].close(audience, WSCloseCode.POLICY_VIOLATION)


class _Actions:
    """What the agent's page sends over the socket; answers go out with the live events."""

    def __init__(self, request: web.Request, signed: Signed, listener: Listener) -> None:
        self.request = request
        self.signed = signed
        self.listener = listener
        self.tasks: set[asyncio.Task[None]] = set()
        # The latest action per conversation: the next one of that conversation waits for it.
        self.tails: dict[str, asyncio.Task[None]] = {}

    async def read(self, ws: web.WebSocketResponse) -> None:
        """Until the page goes (then the sender is woken up)."""
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.take(message.data)
            elif message.type == WSMsgType.ERROR:
                break
        self.listener.close(WSCloseCode.OK)

    def take(self, text: str) -> None:
        ref = None
        try:
            frame = decode(text)
            if not isinstance(frame, dict):
                raise Invalid("a frame is a JSON object")
            ref = frame.get("ref")
            kind = frame.get("type")
            conversation_id = frame.get("conversationId")
            if kind not in ("message", "typing"):
                raise Invalid("type: must be message or typing")
            if not isinstance(conversation_id, str) or not 1 <= len(conversation_id) <= 40:
                raise Invalid("conversationId: must be a conversation's id")
            if ref is not None and (not isinstance(ref, str) or len(ref) > 100):
                raise Invalid("ref: must be text of at most 100 characters")
        except HubError as error:
            self.listener.push(
                _refused(
                    ref if isinstance(ref, str) else None,
                    (error.status, error.code, error.message, error.details),
                )
            )
            return
        previous = self.tails.get(conversation_id)
        task = asyncio.create_task(self._act(kind, conversation_id, ref, frame, previous))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        self.tails[conversation_id] = task
        task.add_done_callback(lambda done: self._forget(conversation_id, done))

    def _forget(self, conversation_id: str, task: asyncio.Task[None]) -> None:
        if self.tails.get(conversation_id) is task:
            del self.tails[conversation_id]

    async def _act(
        self,
        kind: str,
        conversation_id: str,
        ref: str | None,
        frame: dict[str, Any],
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            if kind == "message":
                message = await send_reply(self.request, self.signed, conversation_id, frame)
                self.listener.push(
                    {
                        "type": "sent",
                        "ref": ref,
                        "conversationId": conversation_id,
                        "message": message,
                    }
                )
            else:
                await send_typing(self.request, self.signed, conversation_id, frame)
        except Exception as error:
            known = failure(error)
            if known is None:
                log.exception("the live socket failed to take an agent's %s", kind)
                known = (500, "internal_error", "the hub failed to handle this", {})
            self.listener.push(_refused(ref, known))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _refused(ref: str | None, known: tuple[int, str, str, Mapping[str, Any]]) -> dict[str, Any]:
    status, code, message, details = known
    body = error_body(code, message, **details)["error"]
    return {"type": "refused", "ref": ref, "error": {**body, "status": status}}


@routes.get("/live", name="live")
async def live(request: web.Request) -> web.StreamResponse:
    check_origin(request, required=True)
    signed = await current(request)
    if signed is None:
        raise Unauthorized("sign in first", code="signed_out")
    hub = request.config_dict
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
    actions = _Actions(request, signed, listener)
    reader = asyncio.create_task(actions.read(ws))
    close_code: int = WSCloseCode.OK
    close_message = b""
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
                close_code = listener.close_code or WSCloseCode.OK
                if close_code == WSCloseCode.POLICY_VIOLATION:
                    close_message = b"signed out"
                break
            if loop.time() - checked >= beat:  # still signed in? then still here
                if await accounts.session(signed.token) is None:
                    close_code, close_message = WSCloseCode.POLICY_VIOLATION, b"signed out"
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
        await actions.stop()
    if not ws.closed:
        await ws.close(code=close_code, message=close_message)
    return ws
