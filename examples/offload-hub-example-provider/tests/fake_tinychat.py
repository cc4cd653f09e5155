"""A fake Tinychat for the tests: a real aiohttp server on 127.0.0.1 that keeps chats and
messages by the hub's ids, as the real service does, and signs the events it sends."""

from __future__ import annotations

import json
import socket
from typing import Any

from aiohttp import web
from providers.signing import SIGNATURE_HEADER, sign
from providers.values import Agent

TOKEN = "tinychat-api-token-0123456789"
SECRET = "tinychat-callback-secret-0123456789"


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeTinychat:
    def __init__(self) -> None:
        self.status: dict[str, Any] = {"open": True, "agents": 2, "wait": 30}
        self.full = False  # answer a new chat with 409 "no-agents"
        self.chats: dict[str, dict[str, Any]] = {}  # by the hub's conversation id
        self.shown: list[tuple[str, str]] = []  # (chat, message id), each shown to agents once
        self.typing: list[tuple[str, bool]] = []
        self.closed: list[str] = []
        self.texts: dict[str, list[str]] = {}  # by chat: what its agents were shown
        self.down = False  # answer everything with 503
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> FakeTinychat:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/api/status", self._status)
        app.router.add_put("/api/chats/{conversation}", self._open)
        app.router.add_put("/api/chats/{chat}/messages/{message}", self._message)
        app.router.add_put("/api/chats/{chat}/typing", self._typing)
        app.router.add_delete("/api/chats/{chat}", self._close)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def config(self, **changes: Any) -> dict[str, Any]:
        """The ``[providers.X]`` table of a Tinychat instance that uses this service."""
        return {
            "api_url": self.url,
            "api_token": TOKEN,
            "callback_secret": SECRET,
            "allow_private_network": True,
            **changes,
        }

    def event(
        self,
        conversation: str,
        kind: str,
        *,
        id: str,
        agent: Agent | None = None,
        text: str = "",
        typing: bool = False,
    ) -> tuple[bytes, dict[str, str]]:
        """An event for the hub: the body and its headers, signed."""
        payload: dict[str, Any] = {"id": id, "conversation": conversation, "type": kind}
        if agent is not None:
            payload["agent"] = {"id": agent.id, "name": agent.name, "avatar": agent.icon_url}
        payload.update(text=text, typing=typing)
        body = json.dumps(payload).encode()
        return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}

    def chat_of(self, conversation: str) -> str:
        return str(self.chats[conversation]["chat"])

    # -- the API -----------------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.down:
            return web.json_response({"error": "maintenance"}, status=503)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        return await handler(request)

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self.status)

    async def _open(self, request: web.Request) -> web.Response:
        conversation = request.match_info["conversation"]
        if conversation not in self.chats:
            if self.full:
                return web.json_response({"error": "no-agents"}, status=409)
            self.chats[conversation] = {"chat": f"tc-{len(self.chats) + 1}", **await request.json()}
            opened = self.chats[conversation]
            self.texts[opened["chat"]] = [line["text"] for line in opened.get("transcript", [])]
            self.texts[opened["chat"]].append(opened.get("inquiry", ""))
        chat = self.chats[conversation]
        return web.json_response({"chat": chat["chat"], "position": 1, "wait": 30})

    def _known(self, chat: str) -> bool:
        return any(c["chat"] == chat for c in self.chats.values()) and chat not in self.closed

    async def _message(self, request: web.Request) -> web.Response:
        chat, message = request.match_info["chat"], request.match_info["message"]
        if not self._known(chat):
            return web.json_response({"error": "unknown-chat"}, status=404)
        if (chat, message) not in self.shown:
            self.shown.append((chat, message))
            self.texts.setdefault(chat, []).append((await request.json()).get("text", ""))
        return web.json_response({"ok": True})

    async def _typing(self, request: web.Request) -> web.Response:
        chat = request.match_info["chat"]
        if not self._known(chat):
            return web.json_response({"error": "unknown-chat"}, status=404)
        self.typing.append((chat, bool((await request.json())["typing"])))
        return web.json_response({"ok": True})

    async def _close(self, request: web.Request) -> web.Response:
        chat = request.match_info["chat"]
        if not self._known(chat):
            return web.json_response({"error": "unknown-chat"}, status=404)
        self.closed.append(chat)
        return web.json_response({"ok": True})
