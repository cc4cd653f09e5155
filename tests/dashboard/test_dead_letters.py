"""Dead letters in the dashboard: an admin sees what the hub gave up on and sends it again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.conftest import HubFactory
from tests.dashboard.support import DESK, AgentSession, add_agent, agent_session
from tests.hub.test_callbacks import with_callback
from tests.support.chatbot import Hub

TIME_LIMIT = 30


@pytest.fixture
async def hooked_hub(hub_factory: HubFactory) -> Hub:
    """The desk hub, allowed to call the receiver on 127.0.0.1."""
    return await hub_factory(**DESK, allow_private_urls=True)


@pytest.fixture
async def boss(hooked_hub: Hub) -> AsyncIterator[AgentSession]:
    await add_agent(hooked_hub, "Boss", role="admin", online=False)
    session = await agent_session(hooked_hub.client)
    await session.sign_in("boss@example.com")
    yield session
    await session.close()


async def test_an_admin_sends_dead_letters_again(hooked_hub: Hub, boss: AgentSession, receiver):
    desk_hub = hooked_hub
    async with asyncio.timeout(TIME_LIMIT):
        await with_callback(desk_hub, receiver)
        receiver.answer = 422  # the bot's endpoint refuses: dead-lettered at once
        cid = (await desk_hub.chatbot.escalate())["conversationId"]
        await desk_hub.settled()
        log = await desk_hub.chatbot.events(cid)
        listing = await (await boss.get("/dashboard/admin/deliveries")).text()
        for envelope in log:
            assert f"{cid}:{envelope['seq']}" in listing
        assert "the bot&#39;s callback URL refused" in listing

        receiver.answer = 200
        for envelope in log:
            sent = await boss.post(f"/dashboard/admin/deliveries/{cid}:{envelope['seq']}/redeliver")
            assert sent.status == 200
            await desk_hub.settled()
        assert list(receiver.received.values()) == log
        listing = await (await boss.get("/dashboard/admin/deliveries")).text()
        assert "Nothing was given up on." in listing

        again = await boss.post(f"/dashboard/admin/deliveries/{cid}:1/redeliver")
        assert again.status == 404


async def test_agents_cannot_see_dead_letters(desk_hub: Hub):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Ana", online=False)
        session = await agent_session(desk_hub.client)
        try:
            await session.sign_in("ana@example.com")
            response = await session.get("/dashboard/admin/deliveries")
            assert response.status == 403
            refused = await session.post("/dashboard/admin/deliveries/x:1/redeliver")
            assert refused.status == 403
        finally:
            await session.close()
