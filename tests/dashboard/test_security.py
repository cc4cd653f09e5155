"""The dashboard's defences, over plain HTTP, on SQLite and PostgreSQL: sessions and their
cookie, sign-in throttling, CSRF and Origin checks, who may see and touch a conversation,
the live socket's handshake, and customer content shown as text."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from markupsafe import escape

from hub import keys
from tests.dashboard.support import (
    DESK,
    PASSWORD,
    AgentSession,
    add_agent,
    agent_session,
    csrf_of,
)
from tests.support.chatbot import Hub

TIME_LIMIT = 30


@pytest.fixture
async def sessions(desk_hub: Hub) -> AsyncIterator[Any]:
    """Open agent sessions (one cookie jar each), closed after the test."""
    opened: list[AgentSession] = []

    async def open_session() -> AgentSession:
        session = await agent_session(desk_hub.client)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        await session.close()


async def signed_in(sessions: Any, email: str) -> AgentSession:
    session: AgentSession = await sessions()
    await session.sign_in(email)
    return session


def cookie(response: aiohttp.ClientResponse, name: str) -> Any:
    return response.cookies[name]


async def test_signing_in_opens_a_new_session_in_a_safe_cookie(desk_hub: Hub, sessions: Any):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Ana")
        browser = await sessions()
        signed_out = await browser.get("/dashboard/", allow_redirects=False)
        assert signed_out.status == 303
        assert signed_out.headers["Location"] == "/dashboard/login?next=/dashboard/"
        root = await browser.get("/", allow_redirects=False)
        assert (root.status, root.headers["Location"]) == (302, "/dashboard/")
        first = await browser.sign_in("ana@example.com")
        session_cookie = cookie(first, "offload_hub_session")
        assert session_cookie["httponly"] is True
        assert session_cookie["samesite"] == "Lax"
        assert session_cookie["path"] == "/dashboard/"
        assert not session_cookie["secure"]  # plain http here; https sets Secure
        old_token = session_cookie.value

        # A second sign-in (say, from a tab that still had the form open) rotates the
        # session: a new token, and the one the browser had before stops working.
        form_token = next(c.value for c in browser.http.cookie_jar if c.key == "offload_hub_signin")
        second = await browser.http.post(
            browser.url("/dashboard/login"),
            data={"csrf_token": form_token, "email": "ana@example.com", "password": PASSWORD},
            allow_redirects=False,
        )
        assert second.status == 303
        assert cookie(second, "offload_hub_session").value != old_token
        browser.csrf = csrf_of(await (await browser.get("/dashboard/")).text())
        stale = await agent_session(desk_hub.client)
        try:
            stale.http.cookie_jar.update_cookies(
                {"offload_hub_session": old_token}, response_url=stale.url("/dashboard/")
            )
            answer = await stale.get("/dashboard/", allow_redirects=False)
            assert answer.status == 303
            assert answer.headers["Location"].startswith("/dashboard/login?next=")
        finally:
            await stale.close()

        # Signing out ends the session and takes the agent offline.
        response = await browser.post("/dashboard/logout")
        assert response.status == 303
        after = await browser.get("/dashboard/", allow_redirects=False)
        assert after.status == 303
        agent = next(iter(await desk_hub.app[keys.AGENTS].all()))
        assert agent.presence == "offline"


async def test_the_cookies_are_secure_behind_https(hub_factory: Any):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(public_url="https://hub.example.com", **DESK)
        await add_agent(hub, "Ana")
        form = await hub.client.get("/dashboard/login")
        signin_cookie = cookie(form, "offload_hub_signin")
        assert signin_cookie["secure"] is True
        assert signin_cookie["samesite"] == "Strict"
        token = signin_cookie.value
        # (The client keeps Secure cookies off plain http: send it as a browser on https would.)
        response = await hub.client.post(
            "/dashboard/login",
            data={"csrf_token": token, "email": "ana@example.com", "password": PASSWORD},
            headers={"Cookie": f"offload_hub_signin={token}"},
            allow_redirects=False,
        )
        assert response.status == 303
        assert cookie(response, "offload_hub_session")["secure"] is True


async def test_ten_wrong_passwords_make_the_next_attempt_answer_429(desk_hub: Hub, sessions: Any):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Ana")
        browser = await sessions()
        statuses = [
            (await browser.attempt_sign_in("ana@example.com", "wrong password!")).status
            for _ in range(10)
        ]
        # The first failures are free; then the account and the address are blocked.
        assert statuses[:5] == [401] * 5
        assert set(statuses[5:]) <= {401, 429} and statuses[-1] == 429
        right = await browser.attempt_sign_in("ana@example.com", PASSWORD)
        assert right.status == 429
        page = await right.text()
        assert "Too many failed sign-ins: try again in" in page
        assert int(right.headers["Retry-After"]) >= 1
        assert "offload_hub_session" not in right.cookies


async def test_state_changes_without_the_csrf_token_are_refused_and_change_nothing(
    desk_hub: Hub, sessions: Any
):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Boss", role="admin")
        boss = await signed_in(sessions, "boss@example.com")
        accounts = desk_hub.app[keys.AGENTS]

        refused = await boss.post(
            "/dashboard/profile", csrf=False, data={"display_name": "Hacked", "avatar_url": ""}
        )
        assert refused.status == 403
        assert "security token" in await refused.text()
        forged = await boss.post(
            "/dashboard/profile",
            csrf=False,
            data={"csrf_token": "forged", "display_name": "Hacked", "avatar_url": ""},
        )
        assert forged.status == 403
        new_agent = {
            "email": "eve@example.com",
            "display_name": "Eve",
            "password": PASSWORD,
            "role": "admin",
            "max_chats": "3",
        }
        assert (
            await boss.post("/dashboard/admin/agents", csrf=False, data=new_agent)
        ).status == 403
        as_json = await boss.post("/dashboard/status", csrf=False, json={"presence": "online"})
        assert as_json.status == 403
        assert (await as_json.json())["error"]["code"] == "csrf_failed"
        assert [a.display_name for a in await accounts.all()] == ["Boss"]
        assert (await accounts.all())[0].presence == "online"  # add_agent set it; unchanged

        # The same calls with the token work.
        assert (await boss.post("/dashboard/admin/agents", data=new_agent)).status == 303
        assert (await boss.post("/dashboard/status", json={"presence": "away"})).status == 200
        assert sorted(a.display_name for a in await accounts.all()) == ["Boss", "Eve"]

        # The sign-in form has its own token (a double-submit cookie).
        stranger = await sessions()
        response = await stranger.http.post(
            stranger.url("/dashboard/login"),
            data={"email": "boss@example.com", "password": PASSWORD},
            allow_redirects=False,
        )
        assert response.status == 403
        assert "offload_hub_session" not in response.cookies


async def test_requests_from_another_site_are_refused(desk_hub: Hub, sessions: Any):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Ana")
        ana = await signed_in(sessions, "ana@example.com")
        response = await ana.post(
            "/dashboard/status",
            json={"presence": "away"},
            headers={"Origin": "https://evil.example"},
        )
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "bad_origin"
        own = str(ana.url("/")).rstrip("/")
        response = await ana.post(
            "/dashboard/status", json={"presence": "away"}, headers={"Origin": own}
        )
        assert response.status == 200


async def test_a_conversation_held_by_another_agent_is_out_of_reach_unless_admin(
    desk_hub: Hub, sessions: Any
):
    async with asyncio.timeout(TIME_LIMIT):
        ana_id = await add_agent(desk_hub, "Ana")
        await add_agent(desk_hub, "Ben")
        await add_agent(desk_hub, "Boss", role="admin", online=False)
        chatbot = desk_hub.chatbot
        cid = (await chatbot.escalate("s1", inquiry="mine"))["conversationId"]
        desk = desk_hub.app[keys.WORKSPACE].desks["desk"]
        await desk.accept(ana_id, cid)
        photo = aiohttp.FormData()
        photo.add_field("file", b"\x89PNG fake", filename="photo.png", content_type="image/png")
        upload = await chatbot.call(
            "POST", f"/v1/conversations/{cid}/media", conversation_id=cid, data=photo, expect=201
        )
        user_message = await chatbot.send(cid, "u1", "hello")
        await desk_hub.settled()
        before = await chatbot.events(cid)

        ben = await signed_in(sessions, "ben@example.com")
        here = f"/dashboard/conversations/{cid}"
        page = await ben.get(here)
        assert page.status == 403
        assert "assigned to another agent" in await page.text()
        assert "hello" not in await page.text()
        assert (
            await ben.get(here + "/state", headers={"Accept": "application/json"})
        ).status == 403
        assert (await ben.get(f"/dashboard/media/{upload['id']}")).status == 403
        for path, body in (
            ("/messages", {"message": "let me in"}),
            ("/typing", {"typing": True}),
            ("/read", {"upTo": user_message["externalId"]}),
            ("/notes", {"note": "snooping"}),
            ("/transfer", {"to": "queue:support"}),
            ("/close", {"reason": "spam"}),
            ("/accept", {}),
        ):
            response = await ben.post(here + path, json=body)
            assert response.status == 403, (path, response.status, await response.text())
        form = await ben.post(here + "/messages", data={"message": "let me in"})
        assert form.status == 403
        files = aiohttp.FormData()
        files.add_field("csrf_token", ben.csrf)
        files.add_field("file", b"x", filename="x.txt", content_type="text/plain")
        assert (await ben.http.post(ben.url(here + "/files"), data=files)).status == 403
        assert await chatbot.events(cid) == before  # nothing reached the chatbot
        assert await desk_hub.app[keys.WORKSPACE].holder(cid) == ana_id

        boss = await signed_in(sessions, "boss@example.com")
        page = await boss.get(here)
        assert page.status == 200
        assert "hello" in await page.text()
        assert (await boss.get(f"/dashboard/media/{upload['id']}")).status == 200
        # An admin reads it, but answers only after taking it over: an explicit step.
        refused = await boss.post(here + "/messages", json={"message": "An admin here"})
        assert refused.status == 403
        assert (await ben.post(here + "/takeover", json={})).status == 403  # admins only
        taken = await boss.post(here + "/takeover", json={})
        assert taken.status == 200, await taken.text()
        stepped_in = await boss.post(here + "/messages", json={"message": "An admin here"})
        assert stepped_in.status == 201
        shown = [d for a, d in await chatbot.actions(cid) if a == "displayChatbotMessage"]
        assert shown[-1]["message"] == "An admin here"

        # A waiting conversation may be previewed by any agent (but not answered).
        other = (await chatbot.escalate("s2", inquiry="still waiting"))["conversationId"]
        preview = await ben.get(f"/dashboard/conversations/{other}")
        assert preview.status == 200
        assert "still waiting" in await preview.text()
        not_yet = await ben.post(
            f"/dashboard/conversations/{other}/messages", json={"message": "hi"}
        )
        assert not_yet.status == 409


async def test_admin_pages_are_for_admins(desk_hub: Hub, sessions: Any):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Ana")
        ana = await signed_in(sessions, "ana@example.com")
        for path in (
            "/dashboard/admin/agents",
            "/dashboard/admin/bots",
            "/dashboard/admin/canned",
            "/dashboard/admin/overview",
        ):
            assert (await ana.get(path)).status == 403, path
        response = await ana.post("/dashboard/admin/bots", data={"name": "mine"})
        assert response.status == 403


async def test_the_live_socket_checks_origin_and_session(
    desk_hub: Hub, sessions: Any, monkeypatch: pytest.MonkeyPatch
):
    async with asyncio.timeout(TIME_LIMIT):
        import dashboard.live

        monkeypatch.setattr(dashboard.live, "heartbeat_seconds", lambda _lifecycle: 0.2)
        ana_id = await add_agent(desk_hub, "Ana")
        ana = await signed_in(sessions, "ana@example.com")
        url = ana.url("/dashboard/live")
        own = str(ana.url("/")).rstrip("/")

        stranger = await sessions()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await stranger.http.ws_connect(url, headers={"Origin": own})
        assert refused.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await ana.http.ws_connect(url, headers={"Origin": "https://evil.example"})
        assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await ana.http.ws_connect(url)  # no Origin at all: not a page of this hub
        assert refused.value.status == 403

        async with ana.http.ws_connect(url, headers={"Origin": own}) as ws:
            assert await ws.receive_json() == {"type": "hello", "presence": "online"}
            cid = (await desk_hub.chatbot.escalate("s1"))["conversationId"]
            seen = []
            while {"type": "offer", "conversationId": cid} not in seen:
                seen.append(await ws.receive_json())
            assert {"type": "inbox.changed"} in seen
            # Signed out elsewhere: the socket notices within a heartbeat and closes (1008).
            await desk_hub.app[keys.AGENTS].end_sessions(ana_id)
            message = await ws.receive()
            while message.type == WSMsgType.TEXT:
                message = await ws.receive()
            assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
            assert ws.close_code == 1008


XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=1</script>"


async def test_customer_and_bot_content_is_escaped(desk_hub: Hub, sessions: Any):
    async with asyncio.timeout(TIME_LIMIT):
        ana_id = await add_agent(desk_hub, "Ana")
        chatbot = desk_hub.chatbot
        cid = (
            await chatbot.escalate(
                "s1",
                user={"name": XSS_IMG, "lastName": XSS_SCRIPT, "extra": {"note": XSS_SCRIPT}},
                inquiry=f"help {XSS_IMG}",
                transcript=[
                    {"user": "guest", "message": XSS_SCRIPT},
                    {"user": "assistant", "message": f"<b>bold</b>{XSS_IMG}"},
                ],
                data={XSS_IMG: XSS_SCRIPT},
            )
        )["conversationId"]
        ana = await signed_in(sessions, "ana@example.com")
        inbox = await (await ana.get("/dashboard/")).text()
        assert XSS_IMG not in inbox and XSS_SCRIPT not in inbox
        assert escape(f"help {XSS_IMG}") in inbox
        await desk_hub.app[keys.WORKSPACE].desks["desk"].accept(ana_id, cid)
        await chatbot.send(cid, "u1", f"message {XSS_IMG}")
        await desk_hub.settled()
        page = await (await ana.get(f"/dashboard/conversations/{cid}")).text()
        for payload in (XSS_IMG, XSS_SCRIPT):
            assert payload not in page
        # The bot's answer is HTML as the user saw it: allowed formatting stays, the rest
        # (here an <img onerror>) is dropped by the allow-list.
        assert "<b>bold</b></span>" in page
        assert len(re.findall(re.escape(escape(XSS_SCRIPT)), page)) >= 3
        assert escape(f"message {XSS_IMG}") in page
        # No inline script can run even if something slipped through.
        csp = (await ana.get("/dashboard/")).headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp

        # What the agent types reaches the chatbot as text, not markup.
        sent = await ana.post(
            f"/dashboard/conversations/{cid}/messages",
            json={"message": "<script>alert(1)</script>\nsecond line"},
        )
        assert sent.status == 201
        shown = [d for a, d in await chatbot.actions(cid) if a == "displayChatbotMessage"]
        assert shown[-1]["message"] == "&lt;script&gt;alert(1)&lt;/script&gt;<br>second line"
        state = await (
            await ana.get(
                f"/dashboard/conversations/{cid}/state", headers={"Accept": "application/json"}
            )
        ).json()
        assert state["messages"][-1]["text"] == "<script>alert(1)</script>\nsecond line"
