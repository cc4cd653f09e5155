"""The webhook adapter against a real local HTTP server playing the agent platform.

Through a real hub (on SQLite and on PostgreSQL): a whole conversation both ways, retries
and dead letters through the outbox, refused and replayed inbound events, a chain that
survives the platform being down, and signed file links. Against the adapter alone: the
SDK's conformance kit and the mapping of every kind of failure to a typed SDK error.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError
from yarl import URL

from hub import keys
from providers import (
    Closing,
    ConversationRef,
    Opened,
    ProviderAuthError,
    ProviderRefused,
    ProviderTransientError,
    ProviderUnavailable,
    TicketCreated,
)
from providers.testing import (
    AGENT_EVENTS,
    AgentEvent,
    AgentSide,
    ProviderConformance,
    RecordingContext,
    sample_handoff,
    sample_message,
)
from providers.values import AvailabilityRequest
from providers.webhook import WebhookConfig, WebhookProvider
from providers.webhook.media_links import signed_link
from tests.hub.test_bad_input import database_state, expect_error
from tests.hub.test_conversation import TRANSCRIPT, info
from tests.providers.webhook_platform import (
    SECRET,
    FakePlatform,
    Scripted,
    WebhookDouble,
    eventually,
    free_port,
)

ANA = {"id": "a1", "name": "Ana", "iconUrl": "https://cdn.example/ana.png"}
USER = {"name": "Jo", "lastName": "Doe", "email": "jo@example.com", "language": "en"}
EVENTS = "/providers/partner/events"


def webhook_hub(platform: FakePlatform, *, then: str | None = None, **config: Any) -> dict:
    """Hub settings: a "partner" webhook instance in queue "support" (then ``then``)."""
    providers: dict[str, Any] = {"partner": {"type": "webhook", **platform.config(**config)}}
    chain = ["partner"]
    if then is not None:
        providers[then] = {"type": "scripted", "mode": "ticket"}
        chain.append(then)
    return {"providers": providers, "queues": [{"name": "support", "chain": chain}]}


def event(event_id: str | None, event_type: str, cid: str, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": event_type, "conversation": {"id": cid}, "data": data}
    if event_id is not None:
        body["id"] = event_id
    return body


async def post_event(
    hub: Any,
    platform: FakePlatform,
    payload: Any,
    *,
    body: bytes | None = None,
    secret: str | None = None,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> aiohttp.ClientResponse:
    """The platform posts one event to the hub, signed (over ``body`` if given)."""
    raw = body if body is not None else json.dumps(payload).encode()
    signed = platform.signed_body(raw, secret=secret, timestamp=timestamp)
    return await hub.client.post(EVENTS, data=raw, headers={**signed, **(headers or {})})


async def send(hub: Any, platform: FakePlatform, payload: dict[str, Any]) -> dict[str, Any]:
    response = await post_event(hub, platform, payload)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    assert answer["ok"] is True and answer["id"] == payload["id"]
    return answer


def ticks(actions: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [
        (data["externalId"], data["action"])
        for action, data in actions
        if action == "updateMessage" and "externalId" in data
    ]


# -- a whole conversation through a real hub ------------------------------------------------


async def test_a_whole_conversation_both_ways(hub_factory, platform):
    async with asyncio.timeout(30):
        platform.answers["conversation.opened"] = Scripted(
            201, {"ref": "P-1", "position": 2, "estimatedWaitSeconds": 45}
        )
        hub = await hub_factory(**webhook_hub(platform))
        chatbot = hub.chatbot
        answer = await chatbot.escalate(
            "session-42",
            user=USER,
            inquiry="My order is late",
            transcript=TRANSCRIPT,
            data={"orderId": "A-17"},
            expect=201,
        )
        cid = answer["conversationId"]
        assert (answer["status"], answer["position"], answer["estimatedWait"]) == ("queued", 2, 45)

        # The platform got the whole handoff, signed, under an id derived from the hub's.
        (opened,) = [r for r in platform.received if r.type == "conversation.opened"]
        assert opened.event_id == f"conversation.opened:{cid}"
        assert opened.headers["Hub-Event-Type"] == "conversation.opened"
        assert opened.headers["Content-Type"] == "application/json"
        created_at = opened.body["data"].pop("createdAt")
        assert created_at.endswith("Z")
        assert opened.body == {
            "id": f"conversation.opened:{cid}",
            "type": "conversation.opened",
            "instance": "partner",
            "conversation": {"id": cid, "ref": None},
            "data": {
                "queue": "support",
                "botId": chatbot.bot_id,
                "sessionId": "session-42",
                "waitLimitSeconds": 600.0,  # the default wait limit (lifecycle.wait_limit_seconds)
                "skills": [],
                "user": {**USER, "extra": {}},
                "inquiry": "My order is late",
                "transcript": [
                    {**TRANSCRIPT[0], "externalId": None},
                    {**TRANSCRIPT[1], "externalId": None},
                ],
                "data": {"orderId": "A-17"},
                "callbackUrl": hub.app[keys.SETTINGS].public_base_url + EVENTS,
            },
        }

        # The agent side, as the platform posts it.
        await send(hub, platform, event("q1", "queue.position", cid, position=1))
        await send(hub, platform, event("j1", "agent.joined", cid, agent=ANA))
        await send(hub, platform, event("t1", "agent.typing", cid, typing=True, agent=ANA))
        reply = await send(
            hub,
            platform,
            event("m1", "agent.message", cid, html="<b>Hello</b>!<script>alert(1)</script>"),
        )
        hello_id = reply["messageId"]

        # The user's side reaches the platform.
        typing = await chatbot.call(
            "POST", f"/v1/conversations/{cid}/typing", conversation_id=cid, json={"typing": True}
        )
        assert typing["forwarded"] is True
        sent = await chatbot.send(cid, "client-1", "Hi Ana, order A-17 please")
        await hub.settled()
        (message,) = platform.of("message.created")
        sent_at = message["data"]["message"].pop("sentAt")
        assert sent_at.endswith("Z")
        assert message == {
            "id": f"message.created:{sent['externalId']}",
            "type": "message.created",
            "instance": "partner",
            "conversation": {"id": cid, "ref": "P-1"},
            "data": {"message": {"id": sent["externalId"], "text": "Hi Ana, order A-17 please"}},
        }
        await send(
            hub,
            platform,
            event("s1", "message.status", cid, messageId=sent["externalId"], status="delivered"),
        )
        await send(
            hub,
            platform,
            event("s2", "message.status", cid, messageId=sent["externalId"], status="read"),
        )
        await chatbot.call(
            "POST", f"/v1/conversations/{cid}/read", conversation_id=cid, json={"upTo": hello_id}
        )
        renamed = {"id": "a1", "name": "Ana M.", "iconUrl": "https://cdn.example/ana-2.png"}
        await send(hub, platform, event("p1", "agent.profile", cid, agent=renamed))
        await chatbot.call(
            "POST",
            f"/v1/conversations/{cid}/close",
            conversation_id=cid,
            json={"reason": "resolved"},
        )
        await hub.settled()

        ana = {"id": "a1", "name": "Ana", "icon": "https://cdn.example/ana.png"}
        assert await chatbot.actions(cid) == [
            (
                "displaySystemMessage",
                {
                    "message": "queue-position",
                    "translate": True,
                    "replacements": {"position": 2, "estimatedWait": 45},
                },
            ),
            info(provider="partner", position=2, estimatedWait=45),
            (
                "displaySystemMessage",
                {
                    "message": "queue-position",
                    "translate": True,
                    "replacements": {"position": 1, "estimatedWait": None},
                },
            ),
            info(provider="partner", position=1),
            ("setChatbotName", {"source": "name", "name": "Ana"}),
            ("setChatbotIcon", {"source": "url", "url": "https://cdn.example/ana.png"}),
            (
                "displaySystemMessage",
                {
                    "message": "agent-joined",
                    "translate": True,
                    "replacements": {"agentName": "Ana"},
                },
            ),
            info((True, cid, chatbot.bot_id), provider="partner", status="assigned", agent=ana),
            ("displayChatbotActivity", {"type": "writing", "name": "Ana"}),
            ("hideChatbotActivity", {}),
            (
                "displayChatbotMessage",
                {
                    "type": "answer",
                    "message": "<b>Hello</b>!",
                    "custom": {"externalId": hello_id, "agentId": "a1", "agentName": "Ana"},
                },
            ),
            (
                "updateMessage",
                {
                    "id": "client-1",
                    "action": "UPDATE_EXTERNAL",
                    "newExternalId": sent["externalId"],
                },
            ),
            ("updateMessage", {"externalId": sent["externalId"], "action": "SINGLE_TICK"}),
            ("updateMessage", {"externalId": sent["externalId"], "action": "DOUBLE_TICK"}),
            ("setChatbotName", {"source": "name", "name": "Ana M."}),
            ("setChatbotIcon", {"source": "url", "url": "https://cdn.example/ana-2.png"}),
            ("hideChatbotActivity", {}),
            ("setChatbotName", {"source": "default"}),
            ("setChatbotIcon", {"source": "default"}),
            ("displaySystemMessage", {"message": "chat-closed", "translate": True}),
            ("enableInput", {}),
            info(
                provider="partner",
                status="ended",
                reason="resolved",
                agent={**ana, "name": "Ana M.", "icon": "https://cdn.example/ana-2.png"},
            ),
        ]

        # Every user-side call reached the platform once, with the hub's ids.
        assert [e["data"] for e in platform.of("user.typing")] == [{"typing": True}]
        assert platform.of("message.read") == [
            {
                "id": f"message.read:{cid}:{hello_id}",
                "type": "message.read",
                "instance": "partner",
                "conversation": {"id": cid, "ref": "P-1"},
                "data": {"upTo": hello_id},
            }
        ]
        assert platform.of("conversation.closed") == [
            {
                "id": f"conversation.closed:{cid}",
                "type": "conversation.closed",
                "instance": "partner",
                "conversation": {"id": cid, "ref": "P-1"},
                "data": {"reason": "resolved", "by": "user"},
            }
        ]
        assert platform.bad_signatures == 0


async def test_the_platform_ends_it_and_the_chat_is_back_with_the_bot(hub_factory, platform):
    async with asyncio.timeout(30):
        hub = await hub_factory(**webhook_hub(platform))
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(expect=201))["conversationId"]
        await send(
            hub, platform, event("j1", "agent.joined", cid, agent={"id": "a1", "name": "Ana"})
        )
        reply = await send(
            hub, platform, event("m1", "agent.message", cid, text="1 < 2\nsee <you>")
        )
        await send(hub, platform, event("l1", "agent.left", cid, reason="transfer"))
        await send(
            hub, platform, event("j2", "agent.joined", cid, agent={"id": "a2", "name": "Ben"})
        )
        await send(hub, platform, event("c1", "conversation.closed", cid, reason="solved"))
        actions = await chatbot.actions(cid)
        assert (
            "displayChatbotMessage",
            {
                "type": "answer",
                "message": "1 &lt; 2<br>see &lt;you&gt;",
                "custom": {"externalId": reply["messageId"], "agentId": "a1", "agentName": "Ana"},
            },
        ) in actions
        assert [a for a, d in actions if a == "displaySystemMessage"] == [
            "displaySystemMessage"
        ] * 4  # joined, left, joined, closed
        assert actions[-1] == info(
            provider="partner",
            status="ended",
            reason="solved",
            agent={"id": "a2", "name": "Ben", "icon": None},
        )
        # Ended: the platform's late events are refused; the hub does not close it back.
        before = (await chatbot.events(cid), await database_state(hub))
        response = await post_event(hub, platform, event("m2", "agent.message", cid, text="hi?"))
        await expect_error(response, 409, "conversation_ended")
        await hub.settled()
        assert (await chatbot.events(cid), await database_state(hub)) == before
        assert platform.of("conversation.closed") == []


async def test_a_ticket_from_the_platform(hub_factory, platform):
    async with asyncio.timeout(30):
        hub = await hub_factory(**webhook_hub(platform))
        cid = (await hub.chatbot.escalate(expect=201))["conversationId"]
        await send(hub, platform, event("k1", "ticket.created", cid, ticketId="T-9"))
        actions = await hub.chatbot.actions(cid)
        assert (
            "displaySystemMessage",
            {"message": "ticket-created", "translate": True, "replacements": {"ticketId": "T-9"}},
        ) in actions
        assert actions[-1] == info(
            (False, cid, hub.chatbot.bot_id),
            provider="partner",
            status="ticket",
            reason="ticket",
            ticketId="T-9",
        )


async def test_a_platform_that_answers_with_a_ticket_or_an_agent(hub_factory, platform):
    async with asyncio.timeout(30):
        platform.answers["conversation.opened"] = Scripted(200, {"ticketId": "T-1"})
        hub = await hub_factory(**webhook_hub(platform))
        answer = await hub.chatbot.escalate("s1", expect=201)
        assert (answer["status"], answer["ticketId"]) == ("ticket", "T-1")
        platform.answers["conversation.opened"] = Scripted(200, {"status": "assigned"})
        answer = await hub.chatbot.escalate("s2", expect=201)
        assert answer["status"] == "assigned"


# -- retries, ordering and dead letters (the hub's outbox, the adapter's typed errors) -------


async def test_a_failing_receiver_recovers_in_order_and_nothing_shows_twice(hub_factory, platform):
    async with asyncio.timeout(30):
        hub = await hub_factory(**webhook_hub(platform))
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(expect=201))["conversationId"]
        platform.script.extend(
            [Scripted(503), Scripted(503, headers={"Retry-After": "0"}), Scripted(502)]
        )
        sent = [await chatbot.send(cid, f"c{n}", text) for n, text in enumerate("abc")]
        ids = [s["externalId"] for s in sent]
        await hub.settled()

        # The platform took each message once, in order; the first one needed four tries,
        # all under the same Hub-Event-Id.
        assert [m["data"]["message"]["text"] for m in platform.of("message.created")] == [
            "a",
            "b",
            "c",
        ]
        tries = [(r.event_id, r.status) for r in platform.received if r.type == "message.created"]
        first, second, third = (f"message.created:{i}" for i in ids)
        assert tries == [
            (first, 503),
            (first, 503),
            (first, 502),
            (first, 200),
            (second, 200),
            (third, 200),
        ]
        # One tick per step, nothing twice: the first message waited; the others waited
        # too if they were sent while it failed (test_every_held_message_waits pins that).
        shown = ticks(await chatbot.actions(cid))
        steps = [[tick for m, tick in shown if m == message_id] for message_id in ids]
        assert steps[0] == ["WAITING_TICK", "SINGLE_TICK"]
        for later in steps[1:]:
            assert later in (["SINGLE_TICK"], ["WAITING_TICK", "SINGLE_TICK"])


async def test_every_held_message_waits_while_the_platform_is_down(hub_factory, platform):
    async with asyncio.timeout(30):
        hub = await hub_factory(**webhook_hub(platform), delivery_attempts=50)
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(expect=201))["conversationId"]
        platform.down = Scripted(503, {"error": {"code": "maintenance", "message": "later"}})
        sent = [await chatbot.send(cid, f"c{n}", f"message {n}") for n in range(10)]
        ids = [s["externalId"] for s in sent]

        async def all_waiting() -> None:
            while True:
                shown = ticks(await chatbot.actions(cid))
                if all((i, "WAITING_TICK") in shown for i in ids):
                    return
                await asyncio.sleep(0.02)

        await all_waiting()
        platform.down = None
        await hub.settled()
        shown = ticks(await chatbot.actions(cid))
        for message_id in ids:
            assert [t for m, t in shown if m == message_id] == ["WAITING_TICK", "SINGLE_TICK"]
        texts = [m["data"]["message"]["text"] for m in platform.of("message.created")]
        assert texts == [f"message {n}" for n in range(10)]


async def test_a_receiver_that_never_recovers_ends_in_an_error_tick(hub_factory, platform):
    async with asyncio.timeout(30):
        hub = await hub_factory(**webhook_hub(platform), delivery_attempts=3)
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(expect=201))["conversationId"]
        platform.down = Scripted(503, {"error": {"code": "maintenance", "message": "later"}})
        sent = await chatbot.send(cid, "c1", "hello")
        await hub.settled()
        tries = [r.event_id for r in platform.received if r.type == "message.created"]
        assert tries == [f"message.created:{sent['externalId']}"] * 3
        assert platform.of("message.created") == []
        assert ticks(await chatbot.actions(cid)) == [
            (sent["externalId"], "WAITING_TICK"),
            (sent["externalId"], "ERROR_TICK"),
        ]


async def test_a_refused_message_fails_at_once(hub_factory, platform):
    async with asyncio.timeout(30):
        hub = await hub_factory(**webhook_hub(platform))
        cid = (await hub.chatbot.escalate(expect=201))["conversationId"]
        platform.answers["message.created"] = Scripted(
            422, {"error": {"code": "too_long", "message": "no"}}
        )
        sent = await hub.chatbot.send(cid, "c1", "hello")
        await hub.settled()
        assert len([r for r in platform.received if r.type == "message.created"]) == 1
        assert ticks(await hub.chatbot.actions(cid)) == [(sent["externalId"], "ERROR_TICK")]


# -- inbound events: refused, replayed, changing nothing ------------------------------------


async def test_bad_inbound_events_are_refused_and_change_nothing(hub_factory, platform):
    async with asyncio.timeout(30):
        hub = await hub_factory(**webhook_hub(platform, max_event_bytes=4096))
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(expect=201))["conversationId"]
        await send(hub, platform, event("j1", "agent.joined", cid, agent=ANA))
        sent = await chatbot.send(cid, "c1", "hello")
        await hub.settled()
        before = (await chatbot.events(cid), await database_state(hub))

        good = event("e1", "agent.message", cid, html="hi")
        now = int(time.time())
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"secret": "another-secret-of-enough-length"}, 401, "signature_mismatch"),
            ({"timestamp": now - 301}, 401, "signature_stale"),
            ({"timestamp": now + 301}, 401, "signature_stale"),
            ({"headers": {"Hub-Signature": ""}}, 401, "signature_missing"),
            ({"headers": {"Hub-Signature": "v1=abcd"}}, 401, "signature_malformed"),
            ({"headers": {"Hub-Signature": "t=soon,v1=abcd"}}, 401, "signature_malformed"),
            ({"body": b"{not json"}, 400, "invalid_json"),
            ({"body": b"[1, 2]"}, 422, "invalid_event"),
            ({"body": b"[" * 1500 + b"]" * 1500}, 400, "too_deep"),
            ({"body": b'{"id": "\xff"}'}, 400, "invalid_json"),
            ({"body": b"x" * 5000}, 413, "too_large"),
        ]
        for kwargs, status, code in cases:
            response = await post_event(hub, platform, good, **kwargs)
            await expect_error(response, status, code)

        # A valid signature over other bytes than those sent: refused.
        signed = platform.signed_body(json.dumps(good).encode())
        tampered = json.dumps({**good, "data": {"html": "<b>pay here</b>"}}).encode()
        response = await hub.client.post(EVENTS, data=tampered, headers=signed)
        await expect_error(response, 401, "signature_mismatch")

        invalid = [
            (event("e2", "agent.dancing", cid), 422, "unknown event type 'agent.dancing'"),
            (event("e3", "agent.joined", cid, agent={"id": "a9"}), 422, "data.agent.name"),
            (event("e4", "agent.typing", cid, typing="yes"), 422, "data.typing"),
            (event("e5", "agent.message", cid), 422, "give html, text or media"),
            (event(None, "agent.message", cid, html="hi"), 422, "needs an id"),
            (event("e6", "message.status", cid, messageId="x", status="seen"), 422, "status"),
            (event("e7", "queue.position", cid, position=-1), 422, "data.position"),
            ({"id": "e8", "type": "agent.message", "data": {"html": "x"}}, 422, "conversation"),
            (event("e9", "agent.message", "c_nosuchconversation", html="hi"), 404, "c_nosuch"),
            (
                event("e10", "message.status", cid, messageId="m_unknown", status="read"),
                404,
                "m_unknown",
            ),
        ]
        for payload, status, words in invalid:
            response = await post_event(hub, platform, payload)
            error = await expect_error(response, status)
            assert words in error["message"], (words, error)
        response = await post_event(hub, platform, good, headers={"Hub-Event-Id": "other"})
        await expect_error(response, 422, "invalid_event")
        headed = event(None, "agent.message", cid, html="hi")
        response = await post_event(hub, platform, headed, headers={"Hub-Event-Id": "x" * 201})
        await expect_error(response, 422, "invalid_event")

        assert (await chatbot.events(cid), await database_state(hub)) == before
        assert sent["externalId"]  # the message that status events could have ticked


async def test_replayed_events_change_nothing_the_second_time(hub_factory, platform):
    async with asyncio.timeout(30):
        hub = await hub_factory(**webhook_hub(platform))
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(expect=201))["conversationId"]
        sent = await chatbot.send(cid, "c1", "hello")
        await hub.settled()
        joined = event("j1", "agent.joined", cid, agent=ANA)
        message = event("m1", "agent.message", cid, html="Hello")
        read = event("r1", "message.status", cid, messageId=sent["externalId"], status="read")
        first = [await send(hub, platform, payload) for payload in (joined, message, read)]
        before = (await chatbot.events(cid), await database_state(hub))

        # The same events again: re-signed (a retry), and byte for byte (a replay).
        again = [await send(hub, platform, payload) for payload in (joined, message, read)]
        assert again == first  # the agent message keeps its externalId
        raw = json.dumps(message).encode()
        headers = platform.signed_body(raw)
        for _ in range(2):
            response = await hub.client.post(EVENTS, data=raw, headers=headers)
            assert (await response.json())["messageId"] == first[1]["messageId"]
        # The id may come in the Hub-Event-Id header instead of the body.
        response = await post_event(
            hub,
            platform,
            event(None, "agent.message", cid, html="Hello"),
            headers={"Hub-Event-Id": "m1"},
        )
        assert (await response.json())["messageId"] == first[1]["messageId"]

        assert (await chatbot.events(cid), await database_state(hub)) == before
        shown = [a for a, _ in await chatbot.actions(cid) if a == "displayChatbotMessage"]
        assert len(shown) == 1


async def test_a_rotated_secret_is_still_accepted_inbound(hub_factory, platform):
    async with asyncio.timeout(30):
        old = "the-previous-secret-0123456789"
        platform.secret = "the-new-shared-secret-0123456789"
        hub = await hub_factory(**webhook_hub(platform, previous_secret=old))
        cid = (await hub.chatbot.escalate(expect=201))["conversationId"]
        assert platform.of("conversation.opened")  # signed with the new secret
        response = await post_event(
            hub, platform, event("j1", "agent.joined", cid, agent=ANA), secret=old
        )
        assert response.status == 200
        response = await post_event(
            hub, platform, event("j2", "agent.joined", cid, agent=ANA), secret="x" * 30
        )
        await expect_error(response, 401, "signature_mismatch")


# -- the chain survives the platform being down ---------------------------------------------


@pytest.mark.parametrize("failure", ["stopped", "server-error", "timeout", "no-agents"])
async def test_the_chain_moves_on_when_the_platform_is_down(hub_factory, platform, failure):
    async with asyncio.timeout(30):
        hub = await hub_factory(**webhook_hub(platform, then="mail", timeout_seconds=0.5))
        assert hub.app[keys.PROVIDERS].get("partner").usable  # it was up at start
        if failure == "stopped":
            await platform.stop()
        elif failure == "server-error":
            platform.down = Scripted(500)
        elif failure == "timeout":
            platform.delay = 1.0
        else:
            platform.down = Scripted(503, {"error": {"code": "no-agents", "message": "none"}})
        answer = await hub.chatbot.escalate(expect=201)
        cid = answer["conversationId"]
        ticket = f"T-{cid[-6:]}"
        assert (answer["status"], answer["ticketId"]) == ("ticket", ticket)
        messages = [
            d["message"] for a, d in await hub.chatbot.actions(cid) if a == "displaySystemMessage"
        ]
        shown = ["no-agents"] if failure == "no-agents" else []
        assert messages == [*shown, "ticket-created"]
        assert platform.of("conversation.opened") == []
        assert platform.of("conversation.closed") == []


async def test_a_platform_down_at_start_is_skipped_then_used_once_it_is_back(hub_factory):
    async with asyncio.timeout(30):
        port = free_port()
        platform = FakePlatform()
        config = webhook_hub(platform, then="mail", health_check_seconds=0.1)
        config["providers"]["partner"]["url"] = f"http://127.0.0.1:{port}/hook"
        hub = await hub_factory(**config)
        instance = hub.app[keys.PROVIDERS].get("partner")
        assert not instance.usable
        assert "failed" in instance.detail
        answer = await hub.chatbot.escalate("s1", expect=201)
        assert answer["status"] == "ticket"
        await platform.start(port)
        try:
            await eventually(lambda: instance.usable)
            answer = await hub.chatbot.escalate("s2", expect=201)
            assert answer["status"] == "queued"
            assert [e["conversation"]["id"] for e in platform.of("conversation.opened")] == [
                answer["conversationId"]
            ]
        finally:
            await platform.stop()


async def test_the_status_url_answers_availability(hub_factory, platform):
    async with asyncio.timeout(30):
        platform.status = {"open": True, "agentsOnline": 4, "estimatedWaitSeconds": 90}
        hub = await hub_factory(
            **webhook_hub(platform, then="mail", status_url=platform.status_url)
        )
        chatbot = hub.chatbot
        answer = await chatbot.call("GET", "/v1/availability", params={"language": "en"})
        assert (answer["open"], answer["agentsOnline"], answer["estimatedWaitSeconds"]) == (
            True,
            4,
            90,
        )
        assert platform.status_queries[-1] == {"queue": "support", "language": "en"}
        # Closed: the chain skips the platform without opening anything there.
        platform.status = {"open": False, "reason": "closed", "agentsOnline": 0}
        answer = await chatbot.escalate(expect=201)
        assert answer["status"] == "ticket"
        messages = [
            d["message"]
            for a, d in await chatbot.actions(answer["conversationId"])
            if a == "displaySystemMessage"
        ]
        assert messages == ["out-of-hours", "ticket-created"]
        assert platform.of("conversation.opened") == []


# -- the user's files, by signed link -------------------------------------------------------


async def test_a_file_from_the_user_reaches_the_platform_as_a_signed_link(hub_factory, platform):
    async with asyncio.timeout(30):
        hub = await hub_factory(**webhook_hub(platform))
        chatbot = hub.chatbot
        cid = (await chatbot.escalate(expect=201))["conversationId"]
        form = aiohttp.FormData()
        form.add_field(
            "file", b"%PDF-1.4 order", filename="order-A17.pdf", content_type="application/pdf"
        )
        form.add_field("id", "c1")
        form.add_field("message", "my order")
        uploaded = await chatbot.call(
            "POST", f"/v1/conversations/{cid}/media", conversation_id=cid, data=form, expect=201
        )
        await hub.settled()
        (message,) = platform.of("message.created")
        media = message["data"]["message"]["media"]
        link = URL(media.pop("url"))
        expires = datetime.fromisoformat(media.pop("expiresAt").replace("Z", "+00:00"))
        assert media == {
            "id": uploaded["id"],
            "name": "order-A17.pdf",
            "contentType": "application/pdf",
            "size": 14,
        }
        assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
        base = hub.app[keys.SETTINGS].public_base_url
        assert str(link).startswith(f"{base}/providers/partner/media/{uploaded['id']}?")

        # The link works without any other credential, and only as it was signed.
        response = await hub.client.get(link.path_qs)
        assert response.status == 200
        assert await response.read() == b"%PDF-1.4 order"
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        forged = link.update_query(signature="0" * 64)
        await expect_error(await hub.client.get(forged.path_qs), 403, "invalid_link")
        longer = link.update_query(expires=str(int(link.query["expires"]) + 1))
        await expect_error(await hub.client.get(longer.path_qs), 403, "invalid_link")
        expired = URL(signed_link(str(link.with_query(None)), SECRET, uploaded["id"], 1000))
        await expect_error(await hub.client.get(expired.path_qs), 403, "invalid_link")
        other = URL(
            signed_link(f"{base}/providers/partner/media/f_nosuch", SECRET, "f_nosuch", 2**40)
        )
        await expect_error(await hub.client.get(other.path_qs), 404, "not_found")


# -- the conformance kit ------------------------------------------------------------------


class TestWebhookAdapter(ProviderConformance):
    provider_class = WebhookProvider
    remote = True

    @pytest.fixture
    def provider_config(self, platform: FakePlatform) -> dict[str, Any]:
        return platform.config(timeout_seconds=2, status_url=platform.status_url)

    @pytest.fixture
    def delivered_ids(self, platform: FakePlatform):
        async def ids() -> list[str]:
            return [e["data"]["message"]["id"] for e in platform.of("message.created")]

        return ids

    @pytest.fixture
    def unreachable_config(self) -> dict[str, Any]:
        return {
            "url": f"http://127.0.0.1:{free_port()}/hook",
            "secret": SECRET,
            "allow_private_network": True,
            "timeout_seconds": 2,
        }

    @pytest.fixture
    def agent_side(
        self, platform: FakePlatform, context: RecordingContext, http: aiohttp.ClientSession
    ) -> AgentSide:
        """The platform posts each kind of event, signed, to the adapter's route (a retry
        of the same event id is a replay)."""

        double = WebhookDouble(platform, context.url_for("/events"), http)

        async def post(event: AgentEvent) -> None:
            status = await double.send(event)
            assert status == 200, status

        return AgentSide(dict.fromkeys(AGENT_EVENTS, post))  # every kind

    @pytest.fixture
    def platform_double(
        self, platform: FakePlatform, context: RecordingContext, http: aiohttp.ClientSession
    ) -> WebhookDouble:
        return WebhookDouble(platform, context.url_for("/events"), http)


# -- the adapter alone: typed failures, stable ids, answers, configuration ------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def adapter(
    http: aiohttp.ClientSession, config: dict[str, Any]
) -> tuple[WebhookProvider, RecordingContext]:
    context = RecordingContext("partner", http=http)
    model = WebhookConfig.model_validate({"health_check_seconds": 0, **config})
    return WebhookProvider("partner", model, context), context


def in_a_minute() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (503, {"Retry-After": "7"}, ProviderTransientError, 7),
        (429, {"Retry-After": "in-a-minute"}, ProviderTransientError, 60),
        (500, {}, ProviderTransientError, None),
        (408, {}, ProviderTransientError, None),
        (503, {"Retry-After": "99999"}, ProviderTransientError, 3600),
        (401, {}, ProviderAuthError, None),
        (403, {}, ProviderAuthError, None),
        (404, {}, ProviderRefused, None),
        (422, {}, ProviderRefused, None),
        (302, {"Location": "http://169.254.169.254/latest/"}, ProviderRefused, None),
    ],
)
async def test_platform_answers_map_to_typed_errors(
    http, platform, status, headers, error, retry_after
):
    async with asyncio.timeout(10):
        provider, context = adapter(http, platform.config())
        if headers.get("Retry-After") == "in-a-minute":
            headers = {"Retry-After": in_a_minute()}
        platform.down = Scripted(status, {"error": {"code": "nope", "message": "no"}}, headers)
        with pytest.raises(error) as raised:
            await provider.deliver(sample_message())
        if isinstance(raised.value, ProviderTransientError):
            if retry_after is None:
                assert raised.value.retry_after is None
            else:
                assert raised.value.retry_after == pytest.approx(retry_after, abs=2)
        assert len(platform.received) == 1  # one attempt: retrying is the hub's job
        # A rejected signature also takes the instance out of routing until it checks out.
        assert context.health == (
            (False, f"credentials rejected: {raised.value}") if error is ProviderAuthError else None
        )


async def test_timeouts_and_refused_connections_are_transient(http, platform):
    async with asyncio.timeout(10):
        provider, _ = adapter(http, platform.config(timeout_seconds=0.2))
        platform.delay = 1.0
        with pytest.raises(ProviderTransientError, match="timed out"):
            await provider.deliver(sample_message())
        closed, _ = adapter(http, platform.config(url=f"http://127.0.0.1:{free_port()}/hook"))
        with pytest.raises(ProviderTransientError):
            await closed.deliver(sample_message())
        health = await closed.check()
        assert not health.ok and "failed" in health.detail


async def test_private_addresses_are_refused_unless_the_config_allows_them(http, platform):
    async with asyncio.timeout(10):
        with pytest.raises(ValidationError, match="loopback"):
            WebhookConfig.model_validate(
                {"url": platform.url, "secret": SECRET, "allow_private_network": False}
            )
        with pytest.raises(ValidationError, match="link-local"):
            WebhookConfig.model_validate(
                {"url": "http://[fe80::1]/x", "secret": SECRET, "status_url": None}
            )
        # A name is resolved before each call; every address it has must be public.
        named = f"http://localhost:{platform.port}/hook"
        provider, _ = adapter(http, {"url": named, "secret": SECRET})
        with pytest.raises(ProviderRefused, match="loopback"):
            await provider.deliver(sample_message())
        health = await provider.check()
        assert not health.ok and "loopback" in health.detail
        assert platform.received == []
        # Allowed: the call goes to the address that was checked, with the configured
        # name as Host.
        allowed, _ = adapter(http, {"url": named, "secret": SECRET, "allow_private_network": True})
        await allowed.deliver(sample_message())
        (received,) = platform.received
        assert received.headers["Host"] == f"localhost:{platform.port}"


async def test_event_ids_come_from_the_hubs_ids(http, platform):
    async with asyncio.timeout(10):
        provider, context = adapter(http, platform.config())
        handoff = sample_handoff()
        context.own(handoff.conversation_id)
        ref = ConversationRef(handoff.conversation_id, "P-1")
        for _ in range(2):
            await provider.open(handoff)
            await provider.deliver(sample_message(ref.id, ref.ref))
            await provider.user_read(ref, "m_agent1")
            await provider.user_typing(ref, True)
            await provider.close(Closing(ref, "resolved", "user"))
        by_type: dict[str, list[str]] = {}
        for r in platform.received:
            by_type.setdefault(r.type, []).append(r.event_id)
        cid = handoff.conversation_id
        assert by_type["conversation.opened"] == [f"conversation.opened:{cid}"] * 2
        assert by_type["message.created"] == ["message.created:m_conformance0001"] * 2
        assert by_type["message.read"] == [f"message.read:{cid}:m_agent1"] * 2
        assert by_type["conversation.closed"] == [f"conversation.closed:{cid}"] * 2
        first, second = by_type["user.typing"]
        assert first != second  # typing is never retried, each one is new
        # The platform de-duplicated: each event taken once.
        assert len(platform.of("message.created")) == 1


async def test_the_answer_to_opened(http, platform):
    async with asyncio.timeout(10):
        provider, _ = adapter(http, platform.config())
        handoff = sample_handoff()
        opened = platform.answers

        opened["conversation.opened"] = Scripted(200, {"ref": "P-7", "status": "assigned"})
        assert await provider.open(handoff) == Opened(ref="P-7", status="assigned")
        platform.forget()
        opened["conversation.opened"] = Scripted(202, None)
        assert await provider.open(handoff) == Opened(ref=handoff.conversation_id)
        platform.forget()
        opened["conversation.opened"] = Scripted(200, {"ticketId": "T-3", "ref": "R"})
        assert await provider.open(handoff) == TicketCreated(ticket_id="T-3", ref="R")
        platform.forget()
        opened["conversation.opened"] = Scripted(200, {"ref": 7, "position": "first"})
        assert await provider.open(handoff) == Opened(ref=handoff.conversation_id)
        for code in ("closed", "no-agents"):
            platform.down = Scripted(503, {"error": {"code": code, "message": "sorry"}})
            with pytest.raises(ProviderUnavailable) as raised:
                await provider.open(handoff)
            assert raised.value.reason == code
        platform.down = Scripted(409, {"error": {"code": "duplicate_user"}})
        with pytest.raises(ProviderRefused, match="duplicate_user"):
            await provider.open(handoff)


async def test_closing_a_chat_the_platform_forgot_is_done(http, platform):
    async with asyncio.timeout(10):
        provider, _ = adapter(http, platform.config())
        ref = ConversationRef("c_forgotten", "P-1")
        for status in (404, 410):
            platform.down = Scripted(status, {"error": {"code": "not_found"}})
            await provider.close(Closing(ref, "resolved", "user"))


async def test_availability_without_and_with_a_status_url(http, platform):
    async with asyncio.timeout(10):
        request = AvailabilityRequest(queue="support", language="de", skills=("a", "b"))
        plain, _ = adapter(http, platform.config())
        assert (await plain.availability(request)).open
        provider, _ = adapter(http, platform.config(status_url=platform.status_url))
        cases = [
            ({"open": True, "agentsOnline": 2, "estimatedWaitSeconds": 30}, (True, "open", 2, 30)),
            ({"open": False, "reason": "closed"}, (False, "closed", None, None)),
            ({"open": False}, (False, "no-agents", None, None)),
            (
                {"open": False, "reason": "disabled", "agentsOnline": 0},
                (False, "disabled", 0, None),
            ),
        ]
        for status, expected in cases:
            platform.status = status
            answer = await provider.availability(request)
            assert (
                answer.open,
                answer.reason,
                answer.agents_online,
                answer.estimated_wait,
            ) == expected
        assert platform.status_queries[-1] == {
            "queue": "support",
            "language": "de",
            "skills": "a,b",
        }
        platform.status = {"open": "yes"}
        with pytest.raises(ProviderRefused):
            await provider.availability(request)
        platform.down = Scripted(500)
        with pytest.raises(ProviderTransientError):
            await provider.availability(request)
        assert not (await provider.check()).ok


async def test_the_hub_checks_the_platform_as_often_as_configured(hub_factory, platform):
    """The adapter only answers check(); the hub's scheduler calls it every
    health_check_seconds, and what it says is the instance's health."""
    async with asyncio.timeout(10):
        hub = await hub_factory(**webhook_hub(platform, then="mail", health_check_seconds=0.05))
        instance = hub.app[keys.PROVIDERS].get("partner")
        assert instance.provider.check_every == 0.05
        await eventually(lambda: instance.usable)
        pinged = len(platform.received)
        await eventually(lambda: len(platform.received) > pinged)  # checked again, and again
        platform.down = Scripted(401)
        await eventually(lambda: not instance.healthy)
        assert "credentials rejected" in instance.detail
        platform.down = None
        await eventually(lambda: instance.usable)
        assert all(r.type == "ping" for r in platform.received)


def test_the_config_is_strict():
    good = {"url": "https://agents.example.com/hook", "secret": SECRET}
    config = WebhookConfig.model_validate(good)
    assert config.allow_private_network is False
    assert SECRET not in repr(config)
    for bad, words in [
        ({**good, "secret": "short"}, "at least 24"),
        ({**good, "url": "ftp://agents.example.com/"}, "http"),
        ({**good, "url": "https:///nohost"}, "host"),
        ({**good, "url": "http://10.0.0.5/hook"}, "private"),
        ({**good, "status_url": "http://169.254.169.254/"}, "status_url"),
        ({**good, "timeout_seconds": 0}, "timeout_seconds"),
        ({k: v for k, v in good.items() if k != "secret"}, "secret"),
    ]:
        with pytest.raises(ValidationError, match=words):
            WebhookConfig.model_validate(bad)
    allowed = WebhookConfig.model_validate(
        {**good, "url": "http://10.0.0.5/hook", "allow_private_network": True}
    )
    assert allowed.url == "http://10.0.0.5/hook"
