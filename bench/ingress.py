"""How agent messages go in: one class per ingress, the same interface for each.

``send(items)`` sends a chunk of messages (``(number, conversation id)`` pairs) and returns
once the server has acknowledged all of them (stored, for the hub). ``chunk`` is how many
messages one call carries: 1 for the per-message ingresses, more for the batch POST.
A conversation's messages always go through one caller, one after the other, so their
order is defined and the streams can check it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import aiohttp

from bench.desk import Agent
from bench.hub import AGENT, INSTANCE, PLATFORM_SECRET, HubUnderTest, agent_event, signed_headers
from bench.sio_client import SocketIO
from bench.streams import message_text
from providers.signing import SIGNATURE_HEADER, sign

Item = tuple[int, str]


class Ingress:
    chunk = 1

    async def open(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def send(self, items: Sequence[Item]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        pass


class _Acked(Ingress):
    """A WebSocket whose server acknowledges each message by id (in any grouping)."""

    url: str
    headers: dict[str, str] | None = None

    async def open(self, session: aiohttp.ClientSession) -> None:
        await super().open(session)
        self.ws = await session.ws_connect(self.url, headers=self.headers, max_msg_size=0)
        self.pending: dict[str, asyncio.Future[None]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            self.acknowledged(json.loads(frame.data))
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the ingress socket closed"))

    def acknowledged(self, answer: dict[str, Any]) -> None:
        self._settle(answer)

    def _settle(self, answer: dict[str, Any]) -> None:
        future = self.pending.pop(str(answer.get("ack") or answer.get("id")), None)
        if future is None or future.done():
            return
        if answer.get("ok", True):
            future.set_result(None)
        else:
            future.set_exception(RuntimeError(f"refused: {answer}"))

    def frame(self, n: int, conversation: str) -> tuple[str, str]:
        raise NotImplementedError

    async def send(self, items: Sequence[Item]) -> None:
        futures = []
        loop = asyncio.get_running_loop()
        for n, conversation in items:
            key, text = self.frame(n, conversation)
            future: asyncio.Future[None] = loop.create_future()
            self.pending[key] = future
            futures.append(future)
            await self.ws.send_str(text)
        await asyncio.gather(*futures)

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.gather(self.reader, return_exceptions=True)


class BareWebSocket(_Acked):
    def __init__(self, base: str) -> None:
        self.url = base.replace("http://", "ws://") + "/agent"

    def frame(self, n: int, conversation: str) -> tuple[str, str]:
        key = str(n)
        return key, json.dumps(
            {"id": key, "conversation": conversation, "message": message_text(n)}
        )


class BareHttp(Ingress):
    def __init__(self, base: str) -> None:
        self.url = base + "/send"

    async def send(self, items: Sequence[Item]) -> None:
        for n, conversation in items:
            body = {"id": str(n), "conversation": conversation, "message": message_text(n)}
            async with self.session.post(self.url, json=body) as response:
                await response.read()
                response.raise_for_status()


class SocketIoIngress(Ingress):
    def __init__(self, base: str) -> None:
        self.base = base

    async def open(self, session: aiohttp.ClientSession) -> None:
        await super().open(session)
        self.client = SocketIO(session, self.base)
        await self.client.connect()

    async def send(self, items: Sequence[Item]) -> None:
        for n, conversation in items:
            await self.client.emit(
                "message", {"id": str(n), "conversation": conversation, "message": message_text(n)}
            )

    async def close(self) -> None:
        await self.client.close()


def _agent_message(n: int, conversation: str) -> dict[str, Any]:
    return agent_event(
        "agent.message",
        conversation,
        {"text": message_text(n), "agent": AGENT},
        event_id=f"bench-{n}",
    )


class HubPost(Ingress):
    """One signed POST per event (the webhook bridge's first ingress)."""

    def __init__(self, hub: HubUnderTest) -> None:
        self.url = hub.events_url()

    async def send(self, items: Sequence[Item]) -> None:
        for n, conversation in items:
            body = json.dumps(_agent_message(n, conversation)).encode()
            async with self.session.post(self.url, data=body, headers=signed_headers(body)) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"refused: {r.status} {await r.text()}")


class HubBatch(Ingress):
    """A signed batch of events in one POST, answered per event."""

    chunk = 100

    def __init__(self, hub: HubUnderTest) -> None:
        self.url = hub.events_url("/batch")

    async def send(self, items: Sequence[Item]) -> None:
        events = [_agent_message(n, conversation) for n, conversation in items]
        body = json.dumps({"events": events}).encode()
        async with self.session.post(self.url, data=body, headers=signed_headers(body)) as r:
            answer = await r.json()
            if r.status != 200 or not all(result["ok"] for result in answer["results"]):
                raise RuntimeError(f"refused: {r.status} {answer}")


class HubStream(_Acked):
    """The platform WebSocket: events as frames, each acknowledged once stored."""

    def __init__(self, hub: HubUnderTest) -> None:
        self.path = f"/providers/{INSTANCE}/events/stream"
        self.url = hub.events_url("/stream").replace("http://", "ws://")

    async def open(self, session: aiohttp.ClientSession) -> None:
        self.headers = {SIGNATURE_HEADER: sign(PLATFORM_SECRET, self.path.encode())}
        await super().open(session)

    def acknowledged(self, answer: dict[str, Any]) -> None:
        for result in answer.get("acks", [answer]):
            self._settle(result)

    def frame(self, n: int, conversation: str) -> tuple[str, str]:
        return f"bench-{n}", json.dumps(_agent_message(n, conversation))


class DashboardSocket(_Acked):
    """An agent's dashboard: messages over its live socket, answered by ref."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.url = agent.live_url()
        self.headers = {"Origin": agent.base}

    async def open(self, session: aiohttp.ClientSession) -> None:
        # The agent's own session (its cookie) opens the socket, not the load client's.
        await super().open(self.agent.session)

    def acknowledged(self, answer: dict[str, Any]) -> None:
        if answer.get("type") in ("sent", "refused"):
            self._settle({"ack": answer["ref"], "ok": answer["type"] == "sent", **answer})

    def frame(self, n: int, conversation: str) -> tuple[str, str]:
        key = f"r{n}"
        frame = {
            "type": "message",
            "conversationId": conversation,
            "ref": key,
            "message": message_text(n),
        }
        return key, json.dumps(frame)
