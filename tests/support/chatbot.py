"""A chatbot as the tests play it: it calls the v1 API and reads the event stream."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from hub import keys
from hub.clock import Clock
from hub.settings import Settings
from hub.store.bots import create_bot
from offload_hub.app import create_app
from tests.support.scripted import ScriptedProvider


@dataclass
class Chatbot:
    client: TestClient
    bot_id: str
    secret: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def key_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def token_headers(self, conversation_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[conversation_id]}"}

    async def escalate(
        self,
        session_id: str = "session-1",
        *,
        headers: dict[str, str] | None = None,
        expect: int | tuple[int, ...] = (200, 201),
        **body: Any,
    ) -> dict[str, Any]:
        payload = {"sessionId": session_id, **body}
        response = await self.client.post(
            "/v1/escalations", json=payload, headers={**self.key_headers, **(headers or {})}
        )
        data = await response.json()
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status in expected, (response.status, data)
        if "token" in data:
            self.tokens[data["conversationId"]] = data["token"]
        return data

    async def call(
        self,
        method: str,
        path: str,
        *,
        conversation_id: str | None = None,
        expect: int | tuple[int, ...] = 200,
        **kwargs: Any,
    ) -> Any:
        headers = kwargs.pop("headers", None)
        if headers is None:
            headers = self.token_headers(conversation_id) if conversation_id else self.key_headers
        response = await self.client.request(method, path, headers=headers, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        body = await response.read()
        data = json.loads(body) if body and response.content_type == "application/json" else body
        assert response.status in expected, (response.status, data)
        return data

    async def send(
        self, conversation_id: str, client_id: str, text: str, expect: int | tuple[int, ...] = 201
    ) -> dict[str, Any]:
        return await self.call(  # type: ignore[no-any-return]
            "POST",
            f"/v1/conversations/{conversation_id}/messages",
            conversation_id=conversation_id,
            json={"id": client_id, "message": text},
            expect=expect,
        )

    async def poll(self, conversation_id: str, after: int = 0, wait: int = 0) -> dict[str, Any]:
        return await self.call(  # type: ignore[no-any-return]
            "GET",
            f"/v1/conversations/{conversation_id}/events",
            conversation_id=conversation_id,
            params={"after": after, "wait": wait},
        )

    async def events(self, conversation_id: str, after: int = 0) -> list[dict[str, Any]]:
        return (await self.poll(conversation_id, after))["events"]  # type: ignore[no-any-return]

    async def actions(self, conversation_id: str, after: int = 0) -> list[tuple[str, Any]]:
        return [(e["action"], e["data"]) for e in await self.events(conversation_id, after)]

    async def wait_for(
        self, conversation_id: str, predicate: Any, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Long-poll until some envelope matches ``predicate``; returns the whole log."""
        async with asyncio.timeout(timeout):
            while True:
                events = await self.events(conversation_id)
                if any(predicate(e) for e in events):
                    return events
                last = events[-1]["seq"] if events else 0
                await self.poll(conversation_id, after=last, wait=1)


@dataclass
class Hub:
    app: web.Application
    client: TestClient
    chatbot: Chatbot

    def provider(self, instance: str = "live") -> ScriptedProvider:
        provider = self.app[keys.PROVIDERS].provider(instance)
        assert isinstance(provider, ScriptedProvider)
        return provider

    async def settled(self) -> None:
        """Wait until every outbox delivery of this process is done (and every failover's
        walk along the chain, which may deliver more)."""

        async def quiet() -> None:
            while True:
                await self.app[keys.FAILOVER].idle()
                await self.app[keys.DISPATCHER].idle()
                if not self.app[keys.FAILOVER].busy:
                    return

        await asyncio.wait_for(quiet(), 10)


async def add_bot(app: web.Application, name: str = "Test bot", **kwargs: Any) -> tuple[str, str]:
    async with app[keys.DATABASE].writer.begin() as conn:
        bot, secret = await create_bot(name, conn=conn, clock=Clock(), **kwargs)
    return bot.id, secret


async def start_hub(aiohttp_client: Any, settings: Settings, clock: Clock | None = None) -> Hub:
    app = create_app(settings, clock=clock)
    client: TestClient = await aiohttp_client(app)
    # The scheduler's start-up pass runs at once; let it finish before the test acts.
    await asyncio.wait_for(app[keys.LIFECYCLE].caught_up.wait(), 10)
    bot_id, secret = await add_bot(app)
    return Hub(app, client, Chatbot(client, bot_id, secret))
