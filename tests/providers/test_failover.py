"""Live failover through real adapters: a webhook platform that goes away mid-chat (its real
local HTTP server stops) hands the user on along the chain, to a second platform or to an
email ticket; what the first platform sends after the end answers as the first time."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from tests.providers.smtp_server import HUB_CALL_SECONDS, MailServer, mail_server
from tests.providers.test_webhook import event, ticks
from tests.providers.webhook_platform import FakePlatform, Scripted

TIME_LIMIT = 30
ANA = {"id": "a1", "name": "Ana"}
BEN = {"id": "b1", "name": "Ben"}


@pytest.fixture
async def mail() -> AsyncIterator[MailServer]:
    async with mail_server("none") as server:
        yield server


@pytest.fixture
async def platforms() -> AsyncIterator[tuple[FakePlatform, FakePlatform]]:
    first, second = await FakePlatform().start(), await FakePlatform().start()
    yield first, second
    await first.stop()
    await second.stop()


async def post(hub, platform: FakePlatform, instance: str, payload: dict) -> tuple[int, dict]:
    """The platform posts one signed event to the hub's events route of ``instance``."""
    raw = json.dumps(payload).encode()
    response = await hub.client.post(
        f"/providers/{instance}/events", data=raw, headers=platform.signed_body(raw)
    )
    return response.status, await response.json()


async def send(hub, platform: FakePlatform, instance: str, payload: dict) -> dict:
    status, answer = await post(hub, platform, instance, payload)
    assert status == 200, answer
    return answer


def last_state(actions) -> dict:
    return [d["hub"] for a, d in actions if a == "setExternalInfo"][-1]


def system_messages(actions):
    return [d["message"] for a, d in actions if a == "displaySystemMessage"]


async def test_a_platform_that_goes_away_mid_chat_hands_the_user_to_the_next_platform(
    hub_factory, platforms, caplog
):
    first, second = platforms
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(
            providers={
                "first": {"type": "webhook", **first.config(health_check_seconds=0)},
                "second": {"type": "webhook", **second.config(health_check_seconds=0)},
            },
            queues=[{"name": "support", "chain": ["first", "second"]}],
            delivery_attempts=3,
        )
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(expect=201))["conversationId"]
        await send(hub, first, "first", event("j1", "agent.joined", cid, agent=ANA))
        hello = await chatbot.send(cid, "c1", "hello")
        await hub.settled()
        assert [m["data"]["message"]["text"] for m in first.of("message.created")] == ["hello"]

        await first.stop()  # the platform goes away mid-chat
        seen = len(await chatbot.events(cid))
        held = await chatbot.send(cid, "c2", "are you there?")
        await hub.settled()

        # The user saw the agent leave, then the next platform take the chat; the message
        # the first platform never took went to the second one.
        after = await chatbot.actions(cid, after=seen)
        assert system_messages(after) == ["agent-left"]
        assert ("setChatbotName", {"source": "default"}) in after
        assert (last_state(after)["provider"], last_state(after)["status"]) == ("second", "queued")
        (opened,) = second.of("conversation.opened")
        assert opened["conversation"]["id"] == cid
        assert [m["data"]["message"]["text"] for m in second.of("message.created")] == [
            "are you there?"
        ]
        shown = ticks(await chatbot.actions(cid))
        assert [t for m, t in shown if m == hello["externalId"]] == ["SINGLE_TICK"]
        assert [t for m, t in shown if m == held["externalId"]] == [
            "WAITING_TICK",
            "SINGLE_TICK",
        ]
        await send(hub, second, "second", event("j2", "agent.joined", cid, agent=BEN))
        actions = await chatbot.actions(cid)
        assert system_messages(actions)[-1] == "agent-joined"

        # The operator's log says what happened, in one line each, without a traceback.
        moved = [r for r in caplog.records if "moving it to the next step" in r.getMessage()]
        assert len(moved) == 1 and cid in moved[0].getMessage() and "first" in moved[0].getMessage()
        assert all(r.exc_info is None for r in caplog.records if r.levelno >= logging.WARNING)

        # The first platform comes back and replays an event it had sent: the same answer
        # as the first time; anything new about the chat it lost is a 404.
        await first.start(first.port)
        await send(hub, first, "first", event("j1", "agent.joined", cid, agent=ANA))
        status, _ = await post(hub, first, "first", event("m9", "agent.message", cid, text="hi?"))
        assert status == 404


async def test_a_platform_that_goes_away_mid_chat_ends_in_an_email_ticket(
    hub_factory, platforms, mail
):
    first, _ = platforms
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(
            providers={
                "first": {"type": "webhook", **first.config(health_check_seconds=0)},
                "mail": {"type": "email", **mail.config()},
            },
            queues=[{"name": "support", "chain": ["first", "mail"]}],
            provider_timeout_seconds=HUB_CALL_SECONDS,
            delivery_attempts=3,
        )
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(user={"email": "jo@example.com"}, expect=201))[
            "conversationId"
        ]
        await send(hub, first, "first", event("j1", "agent.joined", cid, agent=ANA))
        await first.stop()
        seen = len(await chatbot.events(cid))
        held = await chatbot.send(cid, "c1", "my order is A-17")
        await hub.settled()
        after = await chatbot.actions(cid, after=seen)
        assert system_messages(after) == ["agent-left", "ticket-created"]
        assert (last_state(after)["provider"], last_state(after)["status"]) == ("mail", "ticket")
        # The message never reached a live agent: it says so.
        assert [t for m, t in ticks(after) if m == held["externalId"]] == [
            "WAITING_TICK",
            "ERROR_TICK",
        ]
        await mail.recorder.wait_for(1)


async def test_a_platform_reported_unhealthy_loses_its_chat_at_the_first_failure(
    hub_factory, platforms
):
    first, second = platforms
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(
            providers={
                "first": {"type": "webhook", **first.config(health_check_seconds=0)},
                "second": {"type": "webhook", **second.config(health_check_seconds=0)},
            },
            queues=[{"name": "support", "chain": ["first", "second"]}],
            delivery_attempts=50,
        )
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(expect=201))["conversationId"]
        first.down = Scripted(401, {"error": {"code": "bad_signature", "message": "no"}})
        await chatbot.send(cid, "c1", "hello")
        await hub.settled()
        # A rejected signature marks the instance unhealthy: no 50 attempts first.
        assert len([r for r in first.received if r.type == "message.created"]) == 1
        assert [m["data"]["message"]["text"] for m in second.of("message.created")] == ["hello"]
