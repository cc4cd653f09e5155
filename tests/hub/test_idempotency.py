"""Replays change nothing: escalations (Idempotency-Key, one open conversation per bot
session) and messages (the client's id)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from hub import keys


async def count(hub, table: str) -> int:
    async with hub.app[keys.DATABASE].read() as conn:
        return int(await conn.scalar(sa.text(f"SELECT count(*) FROM {table}")))


async def test_escalation_replayed_with_idempotency_key(hub):
    chatbot = hub.chatbot
    headers = {"Idempotency-Key": "order-A17-handoff"}
    first = await chatbot.escalate("s1", headers=headers, inquiry="late order", expect=201)
    events = await chatbot.events(first["conversationId"])
    again = await chatbot.escalate("s1", headers=headers, inquiry="late order", expect=200)
    assert again["conversationId"] == first["conversationId"]
    assert again["status"] == first["status"]
    assert await chatbot.events(first["conversationId"]) == events
    assert await count(hub, "conversations") == 1
    assert len(hub.provider().called("open")) == 1

    # The same key with another body is a client bug, refused.
    error = await chatbot.escalate("s1", headers=headers, inquiry="other", expect=422)
    assert error["error"]["code"] == "idempotency_key_reused"


async def test_idempotency_key_replay_after_the_end_returns_the_ended_conversation(hub):
    chatbot = hub.chatbot
    headers = {"Idempotency-Key": "k-1"}
    first = await chatbot.escalate("s1", headers=headers, expect=201)
    cid = first["conversationId"]
    await chatbot.call("POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={})
    replay = await chatbot.escalate("s1", headers=headers, expect=200)
    assert replay["conversationId"] == cid
    assert replay["status"] == "ended"


async def test_one_open_conversation_per_bot_session(hub):
    chatbot = hub.chatbot
    first = await chatbot.escalate("s1", expect=201)
    second = await chatbot.escalate("s1", inquiry="asked again after a reload", expect=200)
    assert second["conversationId"] == first["conversationId"]
    other = await chatbot.escalate("s2", expect=201)
    assert other["conversationId"] != first["conversationId"]
    # Once the first has ended, the same session may escalate again.
    cid = first["conversationId"]
    await chatbot.call("POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={})
    third = await chatbot.escalate("s1", expect=201)
    assert third["conversationId"] not in (cid, other["conversationId"])


async def test_concurrent_escalations_of_one_session_make_one_conversation(hub):
    answers = await asyncio.gather(*(hub.chatbot.escalate("same") for _ in range(8)))
    assert len({answer["conversationId"] for answer in answers}) == 1
    assert await count(hub, "conversations") == 1


async def test_message_replayed_with_the_same_client_id(hub):
    chatbot = hub.chatbot
    cid = (await chatbot.escalate())["conversationId"]
    first = await chatbot.send(cid, "c-1", "hello", expect=201)
    await hub.settled()
    events = await chatbot.events(cid)
    again = await chatbot.send(cid, "c-1", "hello", expect=200)
    assert again == {**first, "duplicate": True}
    await hub.settled()
    assert await chatbot.events(cid) == events
    assert await count(hub, "messages") == 1
    assert len(hub.provider().delivered) == 1


async def test_concurrent_replays_of_a_message_store_it_once(hub):
    chatbot = hub.chatbot
    cid = (await chatbot.escalate())["conversationId"]
    answers = await asyncio.gather(
        *(chatbot.send(cid, "c-1", "hello", expect=(200, 201)) for _ in range(6))
    )
    assert len({a["externalId"] for a in answers}) == 1
    assert sorted(a["duplicate"] for a in answers) == [False] + [True] * 5
    await hub.settled()
    updates = [a for a, d in await chatbot.actions(cid) if d.get("action") == "UPDATE_EXTERNAL"]
    assert len(updates) == 1
    assert await count(hub, "messages") == 1


async def test_a_message_replayed_after_the_end_gets_its_first_answer(hub):
    chatbot = hub.chatbot
    cid = (await chatbot.escalate())["conversationId"]
    first = await chatbot.send(cid, "c-1", "hello")
    await chatbot.call("POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={})
    again = await chatbot.send(cid, "c-1", "hello", expect=200)
    assert again["externalId"] == first["externalId"]
    refused = await chatbot.send(cid, "c-2", "new text", expect=409)
    assert refused["error"]["code"] == "conversation_ended"


async def test_closing_twice_changes_nothing(hub):
    chatbot = hub.chatbot
    cid = (await chatbot.escalate())["conversationId"]
    await chatbot.call("POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={})
    events = await chatbot.events(cid)
    again = await chatbot.call(
        "POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={"reason": "again"}
    )
    assert again["status"] == "ended"
    assert again["reason"] == "closed-by-user"
    assert await chatbot.events(cid) == events
    await hub.settled()
    assert len(hub.provider().called("close")) == 1
