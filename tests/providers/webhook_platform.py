"""A fake agent platform for the webhook adapter: a real aiohttp server on 127.0.0.1.

It checks the hub's ``Hub-Signature`` with its own few lines of HMAC (not with
``providers.signing``, so a bug there cannot hide itself), de-duplicates on
``Hub-Event-Id`` as docs/webhook.md asks every platform to, answers as a test tells it,
and signs the events it posts back to the hub.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from providers.testing import AgentEvent
from providers.testing.platform import Signature

SECRET = "platform-shared-secret-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def eventually(predicate: Callable[[], bool], interval: float = 0.02) -> None:
    """Poll until ``predicate`` holds (for state the hub changes on its own timers); the
    caller bounds the wait."""
    while True:
        if predicate():
            return
        await asyncio.sleep(interval)


def hmac_hex(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={hmac_hex(secret, t, body)}"


def signature_is_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    parts = dict(part.split("=", 1) for part in header.split(","))
    t = int(parts["t"])
    if abs(time.time() - t) > 300:
        return False
    return hmac.compare_digest(parts["v1"], hmac_hex(secret, t, body))


@dataclass
class Received:
    """One request the platform took (its signature was valid)."""

    event_id: str
    type: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int  # what the platform answered
    raw: bytes = b""  # the body as it came, the bytes that were signed


@dataclass
class Scripted:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakePlatform:
    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.received: list[Received] = []  # every signed request, failures and repeats too
        self.accepted: list[Received] = []  # each event id once, when it was first taken
        self.bad_signatures = 0
        self.script: deque[Scripted] = deque()  # answers for the next requests, in order
        self.down: Scripted | None = None  # answer every request like this while set
        self.answers: dict[str, Scripted] = {}  # by event type, for the first delivery
        self.status: dict[str, Any] = {"open": True, "agentsOnline": 3}
        self.status_queries: list[dict[str, str]] = []
        self.delay = 0.0  # seconds before each answer (a slow platform)
        self._replies: dict[str, Scripted] = {}  # what each accepted event id got
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- the server -----------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakePlatform:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_get("/status", self._status)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/status"

    def config(self, **extra: Any) -> dict[str, Any]:
        """The ``[providers.X]`` table of a webhook instance pointing here."""
        return {
            "url": self.url,
            "secret": self.secret,
            "allow_private_network": True,
            **extra,
        }

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        if not signature_is_valid(self.secret, body, request.headers.get("Hub-Signature")):
            self.bad_signatures += 1
            return web.json_response(
                {"error": {"code": "bad_signature", "message": "no"}}, status=401
            )
        event = json.loads(body)
        event_id = request.headers["Hub-Event-Id"]
        assert event_id == event["id"], "the header and the body name different events"
        reply = self._reply(event_id, event["type"])
        received = Received(
            event_id, event["type"], event, dict(request.headers), reply.status, body
        )
        self.received.append(received)
        if 200 <= reply.status < 300 and event_id not in self._replies:
            self._replies[event_id] = reply
            self.accepted.append(received)
        self._changed.set()
        return web.json_response(reply.body or {}, status=reply.status, headers=reply.headers)

    def _reply(self, event_id: str, event_type: str) -> Scripted:
        if self.down is not None:
            return self.down
        if self.script:
            return self.script.popleft()
        if event_id in self._replies:
            return self._replies[event_id]  # a repeat: the same answer, nothing new
        return self.answers.get(event_type, Scripted(200, {"ok": True}))

    async def _status(self, request: web.Request) -> web.Response:
        if not signature_is_valid(self.secret, b"", request.headers.get("Hub-Signature")):
            self.bad_signatures += 1
            return web.json_response({"error": {"code": "bad_signature"}}, status=401)
        self.status_queries.append(dict(request.query))
        if self.down is not None:
            return web.json_response(self.down.body or {}, status=self.down.status)
        return web.json_response(self.status)

    def forget(self) -> None:
        """Forget the event ids taken so far (a platform that lost its state)."""
        self._replies.clear()
        self.accepted.clear()

    # -- what a test reads ----------------------------------------------------------------

    def of(self, event_type: str) -> list[dict[str, Any]]:
        """The bodies of the accepted events of one type, in arrival order."""
        return [r.body for r in self.accepted if r.type == event_type]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    # -- the platform's side of the conversation ----------------------------------------------

    def signed_body(
        self, body: bytes, *, secret: str | None = None, timestamp: int | None = None
    ) -> dict[str, str]:
        """The headers of a request carrying ``body`` to the hub, signed."""
        return {
            "Content-Type": "application/json",
            "Hub-Signature": signature_header(secret or self.secret, body, timestamp),
        }


def _agent(event: AgentEvent) -> dict[str, Any]:
    return {"id": event.agent.id, "name": event.agent.name, "iconUrl": event.agent.icon_url}


def event_body(event: AgentEvent) -> tuple[str, dict[str, Any]]:
    if event.kind == "agent_joined":
        return "agent.joined", {"agent": _agent(event)}
    if event.kind == "agent_left":
        return "agent.left", {"reason": event.reason}
    if event.kind == "agent_message":
        return "agent.message", {"text": event.text, "agent": _agent(event)}
    if event.kind == "agent_typing":
        return "agent.typing", {"typing": event.typing, "agent": _agent(event)}
    if event.kind == "agent_profile":
        return "agent.profile", {"agent": _agent(event)}
    if event.kind == "message_status":
        return "message.status", {"messageId": event.message_id, "status": event.status}
    if event.kind == "queue_update":
        return "queue.position", {
            "position": event.position,
            "estimatedWaitSeconds": event.estimated_wait,
        }
    if event.kind == "ticket_created":
        return "ticket.created", {"ticketId": event.ticket_id}
    return "conversation.closed", {"reason": event.reason}


class WebhookDouble:
    """The kit's :class:`providers.testing.PlatformDouble` over a :class:`FakePlatform`."""

    def __init__(self, platform: FakePlatform, events_url: str, http: aiohttp.ClientSession):
        self.platform = platform
        self.events_url = events_url
        self.http = http

    async def texts(self, conversation_id: str) -> list[str]:
        texts: list[str] = []
        for received in self.platform.accepted:
            body = received.body
            if body.get("conversation", {}).get("id") != conversation_id:
                continue
            if received.type == "conversation.opened":
                texts += [line["message"] for line in body["data"]["transcript"]]
                texts.append(body["data"]["inquiry"])
            elif received.type == "message.created":
                texts.append(body["data"]["message"]["text"])
        return texts

    async def typing(self, conversation_id: str) -> list[bool]:
        return [
            r.body["data"]["typing"]
            for r in self.platform.received
            if r.type == "user.typing" and r.body["conversation"]["id"] == conversation_id
        ]

    async def set_agents_online(self, count: int) -> None:
        self.platform.status = {
            "open": count > 0,
            "agentsOnline": count,
            "reason": "open" if count else "no-agents",
        }
        if count:
            self.platform.answers.pop("conversation.opened", None)
        else:
            self.platform.answers["conversation.opened"] = Scripted(
                409, {"error": {"code": "no-agents", "message": "nobody online"}}
            )

    async def go_down(self) -> None:
        self.platform.down = Scripted(503, {"error": {"code": "down", "message": "later"}})

    async def come_back(self) -> None:
        self.platform.down = None

    async def drop(self, conversation_id: str) -> None:
        self.platform.answers["conversation.closed"] = Scripted(
            404, {"error": {"code": "unknown_chat", "message": "no such chat"}}
        )

    async def send(self, event: AgentEvent, *, signature: Signature = "valid") -> int:
        event_type, payload = event_body(event)
        raw = json.dumps(
            {
                "id": event.event_id,
                "type": event_type,
                "conversation": {"id": event.conversation.id},
                "data": payload,
            }
        ).encode()
        headers = self.platform.signed_body(raw)
        if signature == "invalid":
            headers = self.platform.signed_body(raw, secret="not-the-shared-secret-0000")
        elif signature == "stale":
            headers = self.platform.signed_body(raw, timestamp=int(time.time()) - 3600)
        elif signature == "missing":
            del headers["Hub-Signature"]
        async with self.http.post(self.events_url, data=raw, headers=headers) as response:
            return response.status
