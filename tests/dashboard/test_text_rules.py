"""The dashboard reads forms, JSON calls and files under the same text rules as the API
(on SQLite and PostgreSQL: each refusal is a 4xx that changes nothing), and signing out
closes the session's live socket at once."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType

from tests.dashboard.support import AgentSession, add_agent, agent_session
from tests.hub.test_bad_input import database_state, expect_error
from tests.support.chatbot import Hub

TIME_LIMIT = 30
JSON = {"Accept": "application/json"}


@pytest.fixture
async def chat(desk_hub: Hub, ana: AgentSession) -> str:
    cid = (await desk_hub.chatbot.escalate("s1"))["conversationId"]
    accepted = await ana.post(f"/dashboard/conversations/{cid}/accept", json={})
    assert accepted.status == 200, await accepted.text()
    return cid


async def test_forms_and_calls_that_break_the_rules(desk_hub: Hub, ana: AgentSession, chat: str):
    async with asyncio.timeout(TIME_LIMIT):
        here = f"/dashboard/conversations/{chat}"
        before = await database_state(desk_hub)
        refused: list[tuple[aiohttp.ClientResponse, int, str]] = [
            (await ana.post(here + "/messages", json={"message": "a\x00b"}), 400, "invalid_text"),
            (await ana.post(here + "/messages", json={"message": "\udfff"}), 400, "invalid_text"),
            (
                await ana.http.post(
                    ana.url(here + "/messages"),
                    data='{"message": ' + "[" * 40 + "]" * 40 + "}",
                    headers={**JSON, "Content-Type": "application/json", "X-CSRF-Token": ana.csrf},
                ),
                400,
                "too_deep",
            ),
            (await ana.post(here + "/typing", json={"typing": "yes"}), 422, "validation_error"),
            (
                await ana.post(here + "/notes", data={"note": "a\x00b"}, headers=JSON),
                400,
                "invalid_text",
            ),
            (
                await ana.post(
                    "/dashboard/profile",
                    data={"display_name": "Ana", "avatar_url": "javascript:alert(1)"},
                    headers=JSON,
                ),
                422,
                None,
            ),
        ]
        for response, status, code in refused:
            if code is None:
                assert response.status == status, await response.text()
            else:
                await expect_error(response, status, code)
        bad_file = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a\x00.png"\r\n'
            b"Content-Type: image/png\r\n\r\nPNG\r\n--b--\r\n"
        )
        response = await ana.http.post(
            ana.url(here + "/files"),
            data=bad_file,
            headers={
                **JSON,
                "Content-Type": "multipart/form-data; boundary=b",
                "X-CSRF-Token": ana.csrf,
            },
        )
        await expect_error(response, 400, "invalid_multipart")
        assert await database_state(desk_hub) == before


async def test_a_nul_in_the_sign_in_form_is_refused(desk_hub: Hub):
    async with asyncio.timeout(TIME_LIMIT):
        await add_agent(desk_hub, "Ana")
        before = await database_state(desk_hub)
        stranger = await agent_session(desk_hub.client)
        try:
            response = await stranger.attempt_sign_in("ana\x00@example.com", "whatever")
            assert response.status == 400
        finally:
            await stranger.close()
        assert await database_state(desk_hub) == before


async def test_signing_out_closes_the_live_socket_at_once(desk_hub: Hub, ana: AgentSession):
    async with asyncio.timeout(TIME_LIMIT):
        own = str(ana.url("/")).rstrip("/")
        other = await agent_session(desk_hub.client)  # Ana's second browser stays signed in
        await other.sign_in("ana@example.com")
        try:
            async with (
                ana.http.ws_connect(ana.url("/dashboard/live"), headers={"Origin": own}) as ws,
                other.http.ws_connect(other.url("/dashboard/live"), headers={"Origin": own}) as ws2,
            ):
                assert (await ws.receive_json())["type"] == "hello"
                assert (await ws2.receive_json())["type"] == "hello"
                loop = asyncio.get_running_loop()
                started = loop.time()
                assert (await ana.post("/dashboard/logout")).status == 303
                message = await asyncio.wait_for(_closing(ws), 1.0)
                assert loop.time() - started < 1.0
                assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
                assert ws.close_code == 1008
                assert not ws2.closed  # only the session that signed out
        finally:
            await other.close()


async def _closing(ws: Any) -> Any:
    message = await ws.receive()
    while message.type == WSMsgType.TEXT:
        message = await ws.receive()
    return message
