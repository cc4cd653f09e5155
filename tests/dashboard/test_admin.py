"""The admins' pages over HTTP, on SQLite and PostgreSQL: agents, bots (the key shown
once), canned responses and the live overview's figures."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from hub import keys
from tests.dashboard.support import PASSWORD, AgentSession, add_agent, agent_session
from tests.support.chatbot import Hub

TIME_LIMIT = 30
SECRET = re.compile(r'id="secret-key" readonly value="([^"]+)"')
BOT_ID = re.compile(r"Bot id \(public\): <code>([^<]+)</code>")


@pytest.fixture
async def boss(desk_hub: Hub) -> AsyncIterator[AgentSession]:
    await add_agent(desk_hub, "Boss", role="admin", online=False)
    session = await agent_session(desk_hub.client)
    await session.sign_in("boss@example.com")
    yield session
    await session.close()


async def availability(hub: Hub, secret: str) -> int:
    response = await hub.client.get(
        "/v1/availability", headers={"Authorization": f"Bearer {secret}"}
    )
    return response.status


async def test_bots_the_key_is_shown_once_rotated_and_disabled(desk_hub: Hub, boss: AgentSession):
    async with asyncio.timeout(TIME_LIMIT):
        refused = await boss.post(
            "/dashboard/admin/bots", data={"name": "Shop", "allowed_origins": "not an origin"}
        )
        assert refused.status == 422
        assert "allowed origins" in await refused.text()

        added = await boss.post(
            "/dashboard/admin/bots",
            data={"name": "Shop <bot>", "allowed_origins": "https://shop.example"},
        )
        assert added.status == 201
        page = await added.text()
        assert added.headers["Cache-Control"] == "no-store"
        key = SECRET.search(page).group(1)  # type: ignore[union-attr]
        bot_id = BOT_ID.search(page).group(1)  # type: ignore[union-attr]
        assert "Shop &lt;bot&gt;" in page
        assert await availability(desk_hub, key) == 200
        listing = await (await boss.get("/dashboard/admin/bots")).text()
        assert key not in listing and bot_id in listing and "https://shop.example" in listing

        rotated = await boss.post(f"/dashboard/admin/bots/{bot_id}/rotate")
        assert rotated.status == 200
        new_key = SECRET.search(await rotated.text()).group(1)  # type: ignore[union-attr]
        assert new_key != key
        assert await availability(desk_hub, key) == 401
        assert await availability(desk_hub, new_key) == 200

        disabled = await boss.post(
            f"/dashboard/admin/bots/{bot_id}/disabled", data={"disabled": "true"}
        )
        assert disabled.status == 303
        assert await availability(desk_hub, new_key) in (401, 403)
        enabled = await boss.post(
            f"/dashboard/admin/bots/{bot_id}/disabled", data={"disabled": "false"}
        )
        assert enabled.status == 303
        assert await availability(desk_hub, new_key) == 200
        missing = await boss.post("/dashboard/admin/bots/bot_nope/rotate")
        assert missing.status == 404


async def test_agents_add_limits_password_and_disable(desk_hub: Hub, boss: AgentSession):
    async with asyncio.timeout(TIME_LIMIT):
        accounts = desk_hub.app[keys.AGENTS]
        new = {"email": "ana@example.com", "display_name": "Ana", "role": "agent"}
        weak = await boss.post(
            "/dashboard/admin/agents", data={**new, "password": "short", "max_chats": "3"}
        )
        assert weak.status == 422
        assert "at least 10 characters" in await weak.text()
        added = await boss.post(
            "/dashboard/admin/agents",
            data={**new, "password": PASSWORD, "max_chats": "2", "languages": "EN, es"},
        )
        assert added.status == 303
        again = await boss.post(
            "/dashboard/admin/agents", data={**new, "password": PASSWORD, "max_chats": "2"}
        )
        assert again.status == 409
        ana = next(a for a in await accounts.all() if a.email == "ana@example.com")
        assert (ana.max_chats, ana.languages, ana.role) == (2, ["en", "es"], "agent")

        saved = await boss.post(
            f"/dashboard/admin/agents/{ana.id}",
            data={"role": "agent", "max_chats": "5", "skills": "billing, returns", "languages": ""},
        )
        assert saved.status == 303
        ana = await accounts.require(ana.id)
        assert (ana.max_chats, ana.skills, ana.languages) == (5, ["billing", "returns"], [])
        assert (
            await boss.post(f"/dashboard/admin/agents/{ana.id}", data={"max_chats": "many"})
        ).status == 422

        agent = await agent_session(desk_hub.client)
        try:
            await agent.sign_in("ana@example.com")
            reset = await boss.post(
                f"/dashboard/admin/agents/{ana.id}/password",
                data={"password": "another long password"},
            )
            assert reset.status == 303
            assert (await agent.get("/dashboard/", allow_redirects=False)).status == 303
            await agent.sign_in("ana@example.com", PASSWORD, expect=401)
            await agent.sign_in("ana@example.com", "another long password")
            await agent.post("/dashboard/status", json={"presence": "online"})

            off = await boss.post(
                f"/dashboard/admin/agents/{ana.id}/disabled", data={"disabled": "true"}
            )
            assert off.status == 303
            assert (await agent.get("/dashboard/", allow_redirects=False)).status == 303
            assert (await accounts.require(ana.id)).presence == "offline"
            await agent.sign_in("ana@example.com", "another long password", expect=401)
            on = await boss.post(
                f"/dashboard/admin/agents/{ana.id}/disabled", data={"disabled": "false"}
            )
            assert on.status == 303
            await agent.sign_in("ana@example.com", "another long password")
        finally:
            await agent.close()

        me = next(a for a in await accounts.all() if a.email == "boss@example.com")
        myself = await boss.post(
            f"/dashboard/admin/agents/{me.id}/disabled", data={"disabled": "true"}
        )
        assert myself.status == 409
        demoted = await boss.post(
            f"/dashboard/admin/agents/{me.id}", data={"role": "agent", "max_chats": "3"}
        )
        assert demoted.status == 409
        assert (await accounts.require(me.id)).role == "admin"


async def test_canned_responses(desk_hub: Hub, boss: AgentSession):
    async with asyncio.timeout(TIME_LIMIT):
        empty = await boss.post("/dashboard/admin/canned", data={"title": "", "body": "x"})
        assert empty.status == 422
        added = await boss.post(
            "/dashboard/admin/canned",
            data={"title": "Hello", "body": "Hi <there>, how can I help?"},
        )
        assert added.status == 303
        await boss.post("/dashboard/status", json={"presence": "online"})
        cid = (await desk_hub.chatbot.escalate("s1"))["conversationId"]
        assert (await boss.post(f"/dashboard/conversations/{cid}/accept")).status == 303
        page = await (await boss.get(f"/dashboard/conversations/{cid}")).text()
        assert 'data-body="Hi &lt;there&gt;, how can I help?">Hello</option>' in page
        listing = await (await boss.get("/dashboard/admin/canned")).text()
        canned_id = re.search(r"/dashboard/admin/canned/([^/]+)/delete", listing).group(1)  # type: ignore[union-attr]
        deleted = await boss.post(f"/dashboard/admin/canned/{canned_id}/delete")
        assert deleted.status == 303
        page = await (await boss.get(f"/dashboard/conversations/{cid}")).text()
        assert "how can I help" not in page
        assert (await boss.post(f"/dashboard/admin/canned/{canned_id}/delete")).status == 404


async def test_the_overview_counts_waiting_active_waits_and_agents(
    desk_hub: Hub, boss: AgentSession
):
    async with asyncio.timeout(TIME_LIMIT):
        ana = await add_agent(desk_hub, "Ana", max_chats=1)
        await add_agent(desk_hub, "Ben", online=False)
        desk = desk_hub.app[keys.WORKSPACE].desks["desk"]
        chats = [(await desk_hub.chatbot.escalate(s))["conversationId"] for s in ("s1", "s2")]
        await desk.accept(ana, chats[0])
        response = await boss.get(
            "/dashboard/admin/overview/state", headers={"Accept": "application/json"}
        )
        state = await response.json()
        figures = state["figures"]
        assert (figures["waiting"], figures["active"], figures["online"], figures["away"]) == (
            1,
            1,
            1,
            0,
        )
        assert figures["taken"] == 1 and figures["average_wait"].endswith(" s")
        assert figures["longest_wait"].endswith(" s")
        assert {a["name"]: (a["presence"], a["load"]) for a in state["agents"]} == {
            "Ana": ("online", "1 of 1"),
            "Ben": ("offline", "0 of 3"),
            "Boss": ("offline", "0 of 3"),
        }
        assert [row["id"] for row in state["waiting"]] == [chats[1]]
        page = await (await boss.get("/dashboard/admin/overview")).text()
        assert "Average wait (24 h)" in page
