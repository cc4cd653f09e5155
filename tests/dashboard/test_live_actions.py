"""The agent's messages and typing over the dashboard's live socket (the page uses it when
it is open): the same rules as the form, answered by ref, in order, refusals that change
nothing. On SQLite and PostgreSQL, with a real hub and the desk."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from hub import keys
from tests.dashboard.support import DESK, AgentSession, add_agent, agent_session
from tests.hub.test_bad_input import database_state
from tests.hub.test_db import backend, terminate
from tests.support.chatbot import Hub

TIME_LIMIT = 30


async def accepted_chat(hub: Hub, ana: AgentSession, session_id: str = "s-1") -> str:
    cid = (await hub.chatbot.escalate(session_id, expect=201))["conversationId"]
    answer = await ana.post(f"/dashboard/conversations/{cid}/accept", json={})
    assert answer.status == 200, await answer.text()
    return cid


async def live(ana: AgentSession) -> aiohttp.ClientWebSocketResponse:
    own = str(ana.url("/")).rstrip("/")
    ws = await ana.http.ws_connect(ana.url("/dashboard/live"), headers={"Origin": own})
    assert (await ws.receive_json())["type"] == "hello"
    return ws


async def answers(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    """The next ``count`` answers to what the page sent (live events in between skipped)."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        event = await ws.receive_json()
        if event["type"] in ("sent", "refused"):
            found.append(event)
    return found


async def shown(hub: Hub, cid: str) -> list[str]:
    return [
        data["message"]
        for action, data in await hub.chatbot.actions(cid)
        if action == "displayChatbotMessage"
    ]


async def test_messages_over_the_socket_reach_the_chatbot_in_order(desk_hub, ana):
    async with asyncio.timeout(TIME_LIMIT):
        cid = await accepted_chat(desk_hub, ana)
        ws = await live(ana)
        for n in range(8):  # sent without waiting for the answers
            await ws.send_json(
                {"type": "message", "conversationId": cid, "ref": f"r{n}", "message": f"m {n}"}
            )
        sent = await answers(ws, 8)
        assert [a["type"] for a in sent] == ["sent"] * 8
        assert [a["ref"] for a in sent] == [f"r{n}" for n in range(8)]
        assert all(a["conversationId"] == cid for a in sent)
        assert [a["message"]["text"] for a in sent] == [f"m {n}" for n in range(8)]
        assert all(a["message"]["id"].startswith("m_") for a in sent)
        assert await shown(desk_hub, cid) == [f"m {n}" for n in range(8)]
        await ws.close()


async def test_typing_over_the_socket_shows_the_writing_indicator(desk_hub, ana):
    async with asyncio.timeout(TIME_LIMIT):
        cid = await accepted_chat(desk_hub, ana)
        ws = await live(ana)
        await ws.send_json({"type": "typing", "conversationId": cid, "typing": True})
        await desk_hub.chatbot.wait_for(cid, lambda e: e["action"] == "displayChatbotActivity")
        await ws.send_json({"type": "typing", "conversationId": cid, "typing": False})
        events = await desk_hub.chatbot.wait_for(
            cid, lambda e: e["action"] == "hideChatbotActivity"
        )
        assert ("displayChatbotActivity", {"type": "writing", "name": "Ana"}) in [
            (e["action"], e["data"]) for e in events
        ]
        await ws.close()


async def test_refusals_answer_by_ref_and_change_nothing(desk_hub, ana):
    async with asyncio.timeout(TIME_LIMIT):
        mine = await accepted_chat(desk_hub, ana, "s-mine")
        await add_agent(desk_hub, "Ben")
        ben = await agent_session(desk_hub.client)
        await ben.sign_in("ben@example.com")
        try:
            theirs = await accepted_chat(desk_hub, ben, "s-theirs")
        finally:
            await ben.close()
        ws = await live(ana)
        before = await database_state(desk_hub)
        await ws.send_str("{not json")
        await ws.send_json({"type": "shout", "conversationId": mine, "ref": "a"})
        await ws.send_json(
            {"type": "message", "conversationId": theirs, "ref": "b", "message": "x"}
        )
        await ws.send_json(
            {"type": "message", "conversationId": "c_none", "ref": "c", "message": "x"}
        )
        await ws.send_json({"type": "message", "conversationId": mine, "ref": "d", "message": " "})
        await ws.send_json(
            {"type": "message", "conversationId": mine, "ref": "e", "message": "\u0000"}
        )
        await ws.send_json({"type": "typing", "conversationId": mine, "ref": "f", "typing": "yes"})
        refused = await answers(ws, 7)
        # A frame that breaks the JSON or text rules is refused whole (its ref unread).
        found = sorted((a["ref"] or "", a["error"]["status"], a["error"]["code"]) for a in refused)
        assert found == [
            ("", 400, "invalid_json"),
            ("", 400, "invalid_text"),
            ("a", 422, "validation_error"),
            ("b", 403, "not_yours"),
            ("c", 404, "not_found"),
            ("d", 422, "validation_error"),
            ("f", 422, "validation_error"),
        ]
        assert all(a["type"] == "refused" and a["error"]["message"] for a in refused)
        assert await database_state(desk_hub) == before
        # The socket goes on working.
        await ws.send_json({"type": "message", "conversationId": mine, "ref": "g", "message": "ok"})
        assert (await answers(ws, 1))[0]["type"] == "sent"
        await ws.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_lost_database_connection_is_a_refusal_and_the_next_message_goes(
    hub_factory, database_url
):
    hub = await hub_factory(database_pool_size=1, **DESK)
    await add_agent(hub, "Ana")
    ana = await agent_session(hub.client)
    try:
        await ana.sign_in("ana@example.com")
        async with asyncio.timeout(TIME_LIMIT):
            cid = await accepted_chat(hub, ana)
            ws = await live(ana)
            answers_seen = []
            # The hub's own jobs read too and may meet the dead connection first: kill it
            # again until one of Ana's messages has met it.
            while "refused" not in answers_seen and len(answers_seen) < 20:
                await terminate(database_url, await backend(hub.app[keys.DATABASE]))
                ref = f"r{len(answers_seen)}"
                await ws.send_json(
                    {"type": "message", "conversationId": cid, "ref": ref, "message": ref}
                )
                (answer,) = await answers(ws, 1)
                assert answer["ref"] == ref
                answers_seen.append(answer["type"])
                if answer["type"] == "refused":
                    assert answer["error"] == {
                        "code": "unavailable",
                        "message": "the database is unavailable; try again",
                        "status": 503,
                    }
            assert "refused" in answers_seen
            await ws.send_json(
                {"type": "message", "conversationId": cid, "ref": "after", "message": "again"}
            )
            (answer,) = await answers(ws, 1)
            assert (answer["type"], answer["ref"]) == ("sent", "after")
            sent = [f"r{n}" for n, kind in enumerate(answers_seen) if kind == "sent"]
            assert await shown(hub, cid) == [*sent, "again"]  # the refused one changed nothing
            await ws.close()
    finally:
        await ana.close()
