"""Provider SDK 1.1 through the webhook bridge and a real hub: transfers both ways (a person
in the hub's dashboard, the platform's own request), agent files carried in, absolute
expiring file links, and the per-instance storage of the context."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from yarl import URL

from hub import keys
from hub.clock import ManualClock
from tests.dashboard.support import add_agent, agent_session
from tests.providers.test_failover import last_state, post, send, system_messages
from tests.providers.test_webhook import event
from tests.providers.webhook_platform import FakePlatform

TIME_LIMIT = 30
ANA = {"id": "p-ana", "name": "Ana"}


def settings(platform: FakePlatform, **extra) -> dict:
    return {
        "providers": {
            "partner": {"type": "webhook", **platform.config(health_check_seconds=0)},
            "desk": {"type": "desk"},
        },
        "queues": [
            {"name": "support", "chain": ["partner", "desk"]},
            {"name": "billing", "chain": ["partner"]},
        ],
        **extra,
    }


async def test_an_admin_transfers_a_platform_chat_from_the_dashboard(hub_factory, platform):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(**settings(platform))
        await add_agent(hub, "Root", role="admin")
        cid = (await hub.chatbot.escalate(queue="support", expect=201))["conversationId"]
        await send(hub, platform, "partner", event("j1", "agent.joined", cid, agent=ANA))
        admin = await agent_session(hub.client)
        try:
            await admin.sign_in("root@example.com")
            page = await (await admin.get(f"/dashboard/conversations/{cid}")).text()
            assert 'value="queue:billing"' in page and "agent:" not in page
            wrong = await admin.post(
                f"/dashboard/conversations/{cid}/transfer", json={"to": "queue:nowhere"}
            )
            assert wrong.status == 422
            assert platform.of("conversation.transfer") == []
            moved = await admin.post(
                f"/dashboard/conversations/{cid}/transfer", json={"to": "queue:billing"}
            )
            assert moved.status == 200, await moved.text()
        finally:
            await admin.close()
        (transfer,) = platform.of("conversation.transfer")
        assert transfer["conversation"]["id"] == cid
        assert transfer["data"] == {"queue": "billing", "agentId": None}


async def test_the_platform_hands_a_chat_to_an_agent_of_the_hubs_desk(hub_factory, platform):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(**settings(platform))
        ben = await add_agent(hub, "Ben")
        cid = (await hub.chatbot.escalate(queue="support", expect=201))["conversationId"]
        await send(hub, platform, "partner", event("j1", "agent.joined", cid, agent=ANA))
        seen = len(await hub.chatbot.events(cid))

        status, answer = await post(
            hub, platform, "partner", event("x0", "conversation.transfer", cid, queue="nowhere")
        )
        assert (status, answer["error"]["code"]) == (422, "invalid_event")
        assert len(await hub.chatbot.events(cid)) == seen  # nothing changed

        transfer = event("x1", "conversation.transfer", cid, agentId=ben)
        await send(hub, platform, "partner", transfer)
        await hub.settled()
        after = await hub.chatbot.actions(cid, after=seen)
        # The agent leaves; the desk takes the chat (maybe showing its queue for a moment)
        # and Ben joins.
        shown = system_messages(after)
        assert (shown[0], shown[-1]) == ("agent-left", "agent-joined")
        assert set(shown) <= {"agent-left", "queue-position", "agent-joined"}
        assert last_state(after)["provider"] == "desk"
        assert last_state(after)["agent"]["name"] == "Ben"
        (closed,) = platform.of("conversation.closed")
        assert closed["data"] == {"reason": "transfer", "by": "hub"}

        # The platform sends its request again: the same answer, nothing moves twice.
        again = len(await hub.chatbot.events(cid))
        await send(hub, platform, "partner", transfer)
        assert len(await hub.chatbot.events(cid)) == again


async def test_the_platform_hands_a_chat_to_the_next_step(hub_factory, platform):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(**settings(platform))
        await add_agent(hub, "Ben")
        cid = (await hub.chatbot.escalate(queue="billing", expect=201))["conversationId"]
        status, answer = await post(
            hub, platform, "partner", event("x1", "conversation.transfer", cid, nextStep=True)
        )
        assert status == 422 and "last step" in answer["error"]["message"]
        other = (await hub.chatbot.escalate("s-2", queue="support", expect=201))["conversationId"]
        await send(
            hub, platform, "partner", event("x2", "conversation.transfer", other, nextStep=True)
        )
        actions = await hub.chatbot.actions(other)
        assert (last_state(actions)["provider"], last_state(actions)["status"]) == (
            "desk",
            "queued",
        )


async def test_an_agent_file_reaches_the_user_once_and_a_platform_can_fetch_files(
    hub_factory, platform
):
    async with asyncio.timeout(TIME_LIMIT):
        clock = ManualClock()
        hub = await hub_factory(clock=clock, **settings(platform))
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(queue="billing", expect=201))["conversationId"]
        await send(hub, platform, "partner", event("j1", "agent.joined", cid, agent=ANA))
        content = b"%PDF-1.4 invoice A-17"
        media = {
            "name": "invoice.pdf",
            "contentType": "application/pdf",
            "content": base64.b64encode(content).decode(),
        }
        message = event("m1", "agent.message", cid, text="Your invoice", media=media)
        first = await send(hub, platform, "partner", message)
        again = await send(hub, platform, "partner", message)
        assert (again["messageId"], again["mediaId"]) == (first["messageId"], first["mediaId"])
        shown = [d for a, d in await chatbot.actions(cid) if a == "displayChatbotMessage"]
        assert len(shown) == 1
        assert shown[0]["media"]["name"] == "invoice.pdf"
        assert shown[0]["message"] == "Your invoice"

        bad = event("m2", "agent.message", cid, media={**media, "content": "not base64!"})
        status, answer = await post(hub, platform, "partner", bad)
        assert status == 422 and "base64" in answer["error"]["message"]

        # An absolute link, good for a while, for this file only.
        context = hub.app[keys.PROVIDERS].provider("partner").context
        link = URL(context.media_link(first["mediaId"], ttl=60))
        assert link.is_absolute()
        fetched = await hub.client.get(link.path_qs)
        assert (fetched.status, await fetched.read()) == (200, content)
        forged = link.update_query(signature="0" * 43)
        assert (await hub.client.get(forged.path_qs)).status == 403
        clock.advance(61)
        assert (await hub.client.get(link.path_qs)).status == 403


@pytest.fixture
async def context(hub):
    return hub.provider("live").context


async def test_links_and_the_store_belong_to_one_instance(hub, context):
    cid = (await hub.chatbot.escalate())["conversationId"]
    await context.link(cid, "platform-chat-7")
    await context.link(cid, "platform-chat-7")  # again: nothing changes
    assert await context.lookup("platform-chat-7") == cid
    assert await context.lookup("unknown") is None
    other = (await hub.chatbot.escalate("session-2"))["conversationId"]
    with pytest.raises(ValueError, match="another conversation"):
        await context.link(other, "platform-chat-7")

    store = context.store
    assert await store.get("cursor") is None
    await store.set("cursor", {"after": 41})
    await store.set("cursor", {"after": 42})
    assert await store.get("cursor") == {"after": 42}
    assert await store.add("sent:m1", True) is True
    assert await store.add("sent:m1", True) is False
    await store.delete("sent:m1")
    assert await store.add("sent:m1", True) is True
    with pytest.raises(ValueError):
        await store.set("big", "x" * 70_000)
    with pytest.raises(ValueError):
        await store.set("", 1)
    # Another instance's store is its own; the values are in the database, not the object.
    assert await hub.app[keys.PROVIDERS].provider("live").context.store.get("cursor") == {
        "after": 42
    }


async def test_store_values_expire(hub_factory):
    clock = ManualClock()
    hub = await hub_factory(
        clock=clock,
        providers={"live": {"type": "scripted"}},
        queues=[{"name": "support", "chain": ["live"]}],
    )
    store = hub.provider("live").context.store
    await store.set("token", "abc", ttl=30)
    assert await store.add("lock", 1, ttl=10) is True
    clock.advance(11)
    assert await store.add("lock", 2, ttl=10) is True
    assert await store.get("token") == "abc"
    clock.advance(30)
    assert await store.get("token") is None
    assert json.dumps(await store.get("lock")) == "null"
