"""Bot callbacks: every envelope POSTed, signed, in seq order, retried, dead-lettered,
and sent again by an admin; against a real local receiver that checks the signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import sqlalchemy as sa
from aiohttp import web

from hub import keys
from hub.outbox import OUTBOX
from hub.store.bots import set_callback
from hub.store.outbox import dead_letters
from providers import Agent


class Receiver:
    """A bot's callback endpoint: checks Hub-Signature itself, keeps each event once."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: dict[str, dict] = {}  # by Hub-Event-Id, in arrival order
        self.attempts: list[str] = []
        self.fail_next = 0
        self.answer = 200
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers["Hub-Signature"]
        parts = dict(part.split("=", 1) for part in header.split(","))
        expected = hmac.new(
            self.secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
        ).hexdigest()
        if (
            not hmac.compare_digest(expected, parts["v1"])
            or abs(time.time() - int(parts["t"])) > 300
        ):
            return web.json_response({"error": "bad signature"}, status=401)
        event_id = request.headers["Hub-Event-Id"]
        self.attempts.append(event_id)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"error": "busy"}, status=503)
        if self.answer != 200:
            return web.json_response({"error": "no"}, status=self.answer)
        envelope = json.loads(body)
        assert request.headers["Hub-Event-Type"] == envelope["action"]
        self.received.setdefault(event_id, envelope)
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def receiver():
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


async def with_callback(hub, receiver) -> None:
    async with hub.app[keys.DATABASE].writer.begin() as conn:
        receiver.secret = await set_callback(hub.chatbot.bot_id, receiver.url, conn=conn)
    await hub.app[keys.CALLBACKS].refresh()


@pytest.fixture
async def callback_hub(hub_factory, receiver):
    hub = await hub_factory(providers={"live": {"type": "scripted"}}, allow_private_urls=True)
    await with_callback(hub, receiver)
    return hub


async def conversation(hub) -> str:
    chatbot, context = hub.chatbot, hub.provider().context
    cid = (await chatbot.escalate())["conversationId"]
    await context.agent_joined(cid, Agent("a1", "Ana"))
    await context.agent_message(cid, "Hello from Ana")
    await chatbot.send(cid, "c1", "hi")
    await hub.settled()
    await context.message_status(
        cid, (await chatbot.events(cid))[-2]["data"]["newExternalId"], "read"
    )
    await chatbot.call("POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={})
    await hub.settled()
    return cid


async def test_every_envelope_reaches_the_bot_signed_and_in_order(callback_hub, receiver):
    cid = await conversation(callback_hub)
    log = await callback_hub.chatbot.events(cid)
    assert list(receiver.received) == [f"{cid}:{e['seq']}" for e in log]
    assert list(receiver.received.values()) == log
    assert receiver.attempts == list(receiver.received)  # one POST each, none repeated


async def test_a_failing_receiver_gets_everything_in_order_once_it_recovers(callback_hub, receiver):
    receiver.fail_next = 3
    cid = await conversation(callback_hub)
    log = await callback_hub.chatbot.events(cid)
    assert list(receiver.received.values()) == log  # order kept, nothing twice
    first = f"{cid}:1"
    assert receiver.attempts[:4] == [first] * 4  # the same Hub-Event-Id on each retry


async def test_dead_letters_and_an_admin_sending_them_again(hub_factory, receiver):
    hub = await hub_factory(
        providers={"live": {"type": "scripted"}}, allow_private_urls=True, callback_attempts=3
    )
    await with_callback(hub, receiver)
    receiver.answer = 500
    cid = (await hub.chatbot.escalate())["conversationId"]
    await hub.settled()
    log = await hub.chatbot.events(cid)
    async with hub.app[keys.DATABASE].read() as conn:
        dead = await dead_letters(conn=conn, kind="callback")
    assert sorted(row["event_id"] for row in dead) == sorted(f"{cid}:{e['seq']}" for e in log)
    assert all(row["attempts"] == 3 for row in dead)
    assert receiver.received == {}

    receiver.answer = 200
    for row in sorted(dead, key=lambda row: row["id"]):
        assert await hub.app[keys.DISPATCHER].redeliver(row["event_id"])
    await hub.settled()
    assert list(receiver.received.values()) == log
    async with hub.app[keys.DATABASE].read() as conn:
        assert await dead_letters(conn=conn) == []
    assert not await hub.app[keys.DISPATCHER].redeliver(dead[0]["event_id"])  # not dead now


async def test_a_refusing_receiver_is_dead_lettered_at_once(callback_hub, receiver):
    receiver.answer = 422
    cid = (await callback_hub.chatbot.escalate())["conversationId"]
    await callback_hub.settled()
    async with callback_hub.app[keys.DATABASE].read() as conn:
        dead = await dead_letters(conn=conn, kind="callback")
    assert {row["attempts"] for row in dead} == {1}
    assert len(dead) == len(await callback_hub.chatbot.events(cid))


async def test_callbacks_to_private_addresses_are_refused_unless_allowed(hub_factory, receiver):
    hub = await hub_factory(providers={"live": {"type": "scripted"}})
    await with_callback(hub, receiver)
    await hub.chatbot.escalate()
    await hub.settled()
    async with hub.app[keys.DATABASE].read() as conn:
        dead = await dead_letters(conn=conn, kind="callback")
    assert dead and all("refusing to call" in row["last_error"] for row in dead)
    assert receiver.attempts == []


async def test_stopping_callbacks(callback_hub, receiver):
    async with callback_hub.app[keys.DATABASE].writer.begin() as conn:
        assert await set_callback(callback_hub.chatbot.bot_id, None, conn=conn) is None
    await callback_hub.app[keys.CALLBACKS].refresh()
    await callback_hub.chatbot.escalate()
    await callback_hub.settled()
    assert receiver.attempts == []
    async with callback_hub.app[keys.DATABASE].read() as conn:
        staged = await conn.scalar(
            sa.select(sa.func.count()).where(OUTBOX.c.target.startswith("callback:"))
        )
    assert staged == 0
