"""An agent's work through the dashboard's HTTP interface, on SQLite and PostgreSQL: the
inbox and its unread counts, status, limits, accept, transfer, close, files, notes,
profile and password. (The browser test drives the same calls from the page's script.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from hub import keys
from tests.dashboard.support import PASSWORD, AgentSession, add_agent, agent_session
from tests.support.chatbot import Hub

TIME_LIMIT = 30
JSON = {"Accept": "application/json"}


@pytest.fixture
async def sessions(desk_hub: Hub) -> AsyncIterator[Any]:
    opened: list[AgentSession] = []

    async def signed_in(email: str) -> AgentSession:
        session = await agent_session(desk_hub.client)
        opened.append(session)
        await session.sign_in(email)
        return session

    yield signed_in
    for session in opened:
        await session.close()


async def inbox(session: AgentSession) -> dict[str, Any]:
    response = await session.get("/dashboard/inbox/state", headers=JSON)
    assert response.status == 200
    return await response.json()  # type: ignore[no-any-return]


async def test_the_inbox_shows_waiting_and_unread_until_the_agent_reads(
    desk_hub: Hub, sessions: Any
):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Ana")
        ana = await sessions("ana@example.com")
        chatbot = desk_hub.chatbot
        cid = (
            await chatbot.escalate(
                "s1", user={"name": "Zoe", "language": "es-ES"}, inquiry="late order"
            )
        )["conversationId"]
        state = await inbox(ana)
        [row] = state["waiting"]
        assert (row["id"], row["user"], row["inquiry"], row["language"], row["queue"]) == (
            cid,
            "Zoe",
            "late order",
            "es-ES",
            "support",
        )
        assert row["offer"] == "Offered to you" and row["waited"].endswith(" s")
        assert state["counts"] == {"waiting": 1, "mine": 0, "unread": 0, "max_chats": 3}

        accepted = await ana.post(f"/dashboard/conversations/{cid}/accept")
        assert accepted.status == 303
        assert accepted.headers["Location"] == f"/dashboard/conversations/{cid}?done=accepted"
        first = await chatbot.send(cid, "u1", "one")
        second = await chatbot.send(cid, "u2", "two")
        await desk_hub.settled()
        state = await inbox(ana)
        assert state["waiting"] == []
        assert [(r["id"], r["unread"], r["unread_label"]) for r in state["mine"]] == [
            (cid, 2, "2 unread")
        ]
        assert state["counts"]["unread"] == 2

        page = await (await ana.get(f"/dashboard/conversations/{cid}")).text()
        assert 'data-needs-read="true"' in page
        assert f'data-last-user-message="{second["externalId"]}"' in page
        read = await ana.post(
            f"/dashboard/conversations/{cid}/read", json={"upTo": second["externalId"]}
        )
        assert read.status == 200
        assert (await inbox(ana))["counts"]["unread"] == 0
        double = [
            d["externalId"]
            for a, d in await chatbot.actions(cid)
            if a == "updateMessage" and d["action"] == "DOUBLE_TICK"
        ]
        assert double == [first["externalId"], second["externalId"]]
        bogus = await ana.post(f"/dashboard/conversations/{cid}/read", json={"upTo": "m_nope"})
        assert bogus.status == 404


async def test_status_controls_offers_and_an_agent_at_the_limit_gets_no_more(
    desk_hub: Hub, sessions: Any
):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Ana", online=False, max_chats=1)
        ana = await sessions("ana@example.com")
        online = await ana.post("/dashboard/status", json={"presence": "online"})
        assert (online.status, await online.json()) == (200, {"presence": "online"})
        assert (await ana.post("/dashboard/status", json={"presence": "busy"})).status == 422

        chatbot = desk_hub.chatbot
        first = (await chatbot.escalate("s1", inquiry="first"))["conversationId"]
        assert [r["offer"] for r in (await inbox(ana))["waiting"]] == ["Offered to you"]
        # Going away gives the offer back to the queue (nothing is lost: it still waits).
        assert (await ana.post("/dashboard/status", json={"presence": "away"})).status == 200
        assert [(r["id"], r["offer"]) for r in (await inbox(ana))["waiting"]] == [(first, "")]
        form = await ana.post("/dashboard/status", data={"presence": "online"})
        assert form.status == 303
        assert (await ana.post(f"/dashboard/conversations/{first}/accept", json={})).status == 200

        second = (await chatbot.escalate("s2", inquiry="second"))["conversationId"]
        assert [r["offer"] for r in (await inbox(ana))["waiting"]] == [""]
        refused = await ana.post(f"/dashboard/conversations/{second}/accept", json={})
        assert refused.status == 409
        assert (await refused.json())["error"]["code"] == "at_capacity"
        as_page = await ana.post(f"/dashboard/conversations/{second}/accept")
        assert as_page.status == 409
        assert "Ana already has 1 of 1 chats" in await as_page.text()
        assert await desk_hub.app[keys.WORKSPACE].holder(second) is None


async def test_transfer_to_a_queue_or_an_agent_and_close_with_a_reason(
    desk_hub: Hub, sessions: Any
):
    async with asyncio.timeout(TIME_LIMIT):
        ana_id = await add_agent(desk_hub, "Ana")
        ben_id = await add_agent(desk_hub, "Ben")
        await add_agent(desk_hub, "Cy", online=False)
        ana = await sessions("ana@example.com")
        ben = await sessions("ben@example.com")
        chatbot = desk_hub.chatbot
        cid = (await chatbot.escalate("s1", inquiry="please help"))["conversationId"]
        await ana.post(f"/dashboard/conversations/{cid}/accept")
        here = f"/dashboard/conversations/{cid}"

        page = await (await ana.get(here)).text()
        assert "Ben (online, 0 of 3 chats)" in page and "Cy (" not in page
        assert 'value="queue:support"' in page and 'value="queue:vip"' in page
        for target, status in (
            ("queue:nowhere", 422),
            ("somewhere", 422),
            (f"agent:{ana_id}", 422),
        ):
            response = await ana.post(here + "/transfer", json={"to": target})
            assert response.status == status, (target, await response.text())
        cy = next(a.id for a in await desk_hub.app[keys.AGENTS].all() if a.display_name == "Cy")
        offline = await ana.post(here + "/transfer", json={"to": f"agent:{cy}"})
        assert (offline.status, (await offline.json())["error"]["code"]) == (409, "offline")

        moved = await ana.post(here + "/transfer", data={"to": f"agent:{ben_id}"})
        assert (moved.status, moved.headers["Location"]) == (303, "/dashboard/?done=transferred")
        assert await desk_hub.app[keys.WORKSPACE].holder(cid) == ben_id
        assert [r["id"] for r in (await inbox(ben))["mine"]] == [cid]

        requeued = await ben.post(here + "/transfer", json={"to": "queue:vip"})
        assert requeued.status == 200
        hub_info = (await chatbot.events(cid))[-1]["data"]["hub"]
        assert hub_info["status"] == "queued"
        assert [r["queue"] for r in (await inbox(ben))["waiting"]] == ["vip"]

        # Back in the queue it is offered again, to the least busy agent: Ana (by name).
        assert (await ana.post(here + "/accept")).status == 303
        bad = await ana.post(here + "/close", json={"reason": "because"})
        assert bad.status == 422
        closed = await ana.post(here + "/close", data={"reason": "resolved"})
        assert (closed.status, closed.headers["Location"]) == (303, "/dashboard/?done=closed")
        last = (await chatbot.events(cid))[-1]["data"]["hub"]
        assert (last["status"], last["reason"]) == ("ended", "resolved")
        state = await inbox(ana)
        assert state["mine"] == [] and [r["end_reason"] for r in state["closed"]] == ["resolved"]
        # The ended conversation stays readable for its last agent, and is read-only.
        assert (await ana.get(here)).status == 200
        assert (await ben.get(here)).status == 403
        late = await ana.post(here + "/messages", json={"message": "one more thing"})
        assert late.status == 409


async def test_files_both_ways(desk_hub: Hub, sessions: Any):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Ana")
        ana = await sessions("ana@example.com")
        chatbot = desk_hub.chatbot
        cid = (await chatbot.escalate("s1"))["conversationId"]
        await ana.post(f"/dashboard/conversations/{cid}/accept")
        here = f"/dashboard/conversations/{cid}"

        def upload(name: str, content: bytes, content_type: str) -> aiohttp.FormData:
            form = aiohttp.FormData(quote_fields=False)  # as browsers send file names
            form.add_field("csrf_token", ana.csrf)
            form.add_field("message", "Here it is")
            form.add_field("file", content, filename=name, content_type=content_type)
            return form

        sent = await ana.http.post(
            ana.url(here + "/files"),
            data=upload("../../invoice <1>.pdf", b"%PDF-1.4 invoice", "application/pdf"),
            headers=JSON,
        )
        assert sent.status == 201, await sent.text()
        message = (await sent.json())["message"]
        assert message["media"]["name"] == "invoice <1>.pdf"
        shown = [d for a, d in await chatbot.actions(cid) if a == "displayChatbotMessage"]
        assert shown[-1]["message"] == "Here it is"
        assert shown[-1]["media"]["name"] == "invoice <1>.pdf"
        got = await chatbot.call("GET", shown[-1]["media"]["url"], conversation_id=cid)
        assert got == b"%PDF-1.4 invoice"
        download = await ana.get(message["media"]["url"])
        assert download.status == 200 and await download.read() == b"%PDF-1.4 invoice"
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert download.headers["X-Content-Type-Options"] == "nosniff"

        refused = await ana.http.post(
            ana.url(here + "/files"),
            data=upload("run.exe", b"MZ", "application/x-msdownload"),
            headers=JSON,
        )
        assert refused.status == 415
        assert len([a for a, _ in await chatbot.actions(cid) if a == "displayChatbotMessage"]) == 1
        missing = await ana.post(here + "/files", json={})
        assert missing.status == 415


async def test_notes_are_internal(desk_hub: Hub, sessions: Any):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Ana")
        ana = await sessions("ana@example.com")
        chatbot = desk_hub.chatbot
        cid = (await chatbot.escalate("s1"))["conversationId"]
        here = f"/dashboard/conversations/{cid}"
        assert (await ana.post(here + "/notes", json={"note": "early"})).status == 403
        await ana.post(here + "/accept")
        before = await chatbot.events(cid)
        added = await ana.post(here + "/notes", json={"note": "VIP <b>customer</b>"})
        assert added.status == 201
        note = (await added.json())["note"]
        assert (note["body"], note["agent_name"]) == ("VIP <b>customer</b>", "Ana")
        assert (await ana.post(here + "/notes", json={"note": "  "})).status == 422
        assert await chatbot.events(cid) == before
        page = await (await ana.get(here)).text()
        assert "VIP &lt;b&gt;customer&lt;/b&gt;" in page


async def test_profile_and_password(desk_hub: Hub, sessions: Any):
    async with asyncio.timeout(TIME_LIMIT):
        ana_id = await add_agent(desk_hub, "Ana")
        ana = await sessions("ana@example.com")
        chatbot = desk_hub.chatbot
        cid = (await chatbot.escalate("s1"))["conversationId"]
        await ana.post(f"/dashboard/conversations/{cid}/accept")

        bad = await ana.post(
            "/dashboard/profile", data={"display_name": "Ana", "avatar_url": "javascript:x"}
        )
        assert bad.status == 422
        assert "the avatar URL must be an http(s) address" in await bad.text()
        saved = await ana.post(
            "/dashboard/profile",
            data={"display_name": "Ana María", "avatar_url": "https://cdn.example/a.png"},
        )
        assert (saved.status, saved.headers["Location"]) == (303, "/dashboard/profile?done=profile")
        assert (await chatbot.actions(cid))[-2:] == [
            ("setChatbotName", {"source": "name", "name": "Ana María"}),
            ("setChatbotIcon", {"source": "url", "url": "https://cdn.example/a.png"}),
        ]

        wrong = await ana.post(
            "/dashboard/profile/password",
            data={"current_password": "not it at all", "new_password": "a new long password"},
        )
        assert wrong.status == 401
        assert "Your current password is wrong." in await wrong.text()
        short = await ana.post(
            "/dashboard/profile/password",
            data={"current_password": PASSWORD, "new_password": "short"},
        )
        assert short.status == 422
        changed = await ana.post(
            "/dashboard/profile/password",
            data={"current_password": PASSWORD, "new_password": "a new long password"},
        )
        assert changed.status == 303
        assert (await ana.get("/dashboard/", allow_redirects=False)).status == 200
        accounts = desk_hub.app[keys.AGENTS]
        fresh = await accounts.sign_in("ana@example.com", "a new long password", address="t")
        assert fresh.agent.id == ana_id
