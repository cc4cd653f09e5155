"""Chains of the real built-in adapters: the desk falls back to an email ticket when no agent
is online, and a webhook platform that is down falls back to email too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hub import keys
from hub.agents.presence import set_presence
from tests.providers.smtp_server import HUB_CALL_SECONDS, MailServer, mail_server
from tests.providers.webhook_platform import FakePlatform

TIME_LIMIT = 30


@pytest.fixture
async def mail() -> AsyncIterator[MailServer]:
    async with mail_server("none") as server:
        yield server


def system_messages(actions):
    return [d["message"] for a, d in actions if a == "displaySystemMessage"]


async def test_desk_then_email_with_nobody_online_becomes_an_email_ticket(hub_factory, mail):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(
            providers={"desk": {"type": "desk"}, "mail": {"type": "email", **mail.config()}},
            queues=[{"name": "support", "chain": ["desk", "mail"]}],
            provider_timeout_seconds=HUB_CALL_SECONDS,
        )
        await hub.app[keys.AGENTS].create("ana@example.com", "Ana", "correct horse battery")
        answer = await hub.chatbot.escalate(
            user={"name": "Jo", "email": "jo@example.com"},
            inquiry="My order A-17 is late",
            transcript=[{"user": "guest", "message": "Where is my order?"}],
            expect=201,
        )
        assert answer["status"] == "ticket"
        ticket = answer["ticketId"]
        actions = await hub.chatbot.actions(answer["conversationId"])
        assert system_messages(actions) == ["no-agents", "ticket-created"]
        assert (
            "displaySystemMessage",
            {"message": "ticket-created", "translate": True, "replacements": {"ticketId": ticket}},
        ) in actions
        assert actions[-1][1]["hub"]["status"] == "ticket"
        emails = await mail.recorder.wait_for(2)  # the ticket and the user's confirmation
        to_support = next(e for e in emails if "support@example.com" in e.header("To"))
        assert ticket in to_support.header("Subject")
        assert "Where is my order?" in to_support.part("plain")


async def test_desk_then_email_with_an_agent_online_stays_on_the_desk(hub_factory, mail):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(
            providers={"desk": {"type": "desk"}, "mail": {"type": "email", **mail.config()}},
            queues=[{"name": "support", "chain": ["desk", "mail"]}],
            provider_timeout_seconds=HUB_CALL_SECONDS,
        )
        ana = await hub.app[keys.AGENTS].create("ana@example.com", "Ana", "correct horse battery")
        await set_presence(hub.app, ana.id, "online")
        answer = await hub.chatbot.escalate(expect=201)
        assert (answer["status"], answer["queue"]) == ("queued", "support")
        await hub.settled()
        assert mail.received == []


async def test_webhook_then_email_survives_the_platform_being_down(hub_factory, mail):
    async with asyncio.timeout(TIME_LIMIT):
        platform = await FakePlatform().start()
        config = platform.config()
        await platform.stop()  # the agent platform is down
        hub = await hub_factory(
            providers={
                "partner": {"type": "webhook", **config},
                "mail": {"type": "email", **mail.config()},
            },
            queues=[{"name": "support", "chain": ["partner", "mail"]}],
            provider_timeout_seconds=HUB_CALL_SECONDS,
        )
        answer = await hub.chatbot.escalate(user={"email": "jo@example.com"}, expect=201)
        assert answer["status"] == "ticket"
        actions = await hub.chatbot.actions(answer["conversationId"])
        assert system_messages(actions)[-1] == "ticket-created"
        assert actions[-1][1]["hub"]["provider"] == "mail"
        await mail.recorder.wait_for(1)
