"""Chatlayer's Offloading Webhook: Chatlayer's documented payloads in, a whole offload to
the end of the chat, the answers when nobody can take it, the transcript of every message
structure, retries against a local fake of Chatlayer's API, and bad input changing nothing.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from yarl import URL

from hub import keys
from hub.chatlayer.transcript import HistoryItem, build_transcript
from hub.clock import ManualClock
from hub.settings import ConfigError, load_settings
from hub.store.outbox import dead_letters
from providers import Agent
from tests.dashboard.support import add_agent, agent_session
from tests.hub.chatlayer_api import (
    API_TOKEN,
    BUTTON_TEMPLATE,
    CAROUSEL_BOT,
    CHATLAYER_BOT,
    FILE_URL,
    INTRO_USER,
    LOCATION_USER,
    OFFLOAD,
    POSTBACK_USER,
    QUICK_REPLIES_BOT,
    SESSION,
    TEXT_BOT,
    TEXT_USER,
    UPLOAD_USER,
    VERIFY_TOKEN,
    FakeChatlayer,
    bot_says,
    messages,
    offload,
    user_says,
)
from tests.hub.test_bad_input import database_state
from tests.hub.test_metrics import scrape, value
from tests.support.chatbot import Chatbot

BOT = "shop-bot"


def bounded(seconds: float = 30) -> Callable[[Any], Any]:
    """Each test bounds its own run time."""

    def decorate(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(test)
        async def run(*args: Any, **kwargs: Any) -> None:
            async with asyncio.timeout(seconds):
                await test(*args, **kwargs)

        return run

    return decorate


@pytest.fixture
async def fake():
    api = FakeChatlayer()
    await api.start()
    yield api
    await api.stop()


def integration(fake: FakeChatlayer, **changes: Any) -> dict[str, Any]:
    return {
        "bot": BOT,
        "verify_token": VERIFY_TOKEN,
        "api_url": fake.url,
        "api_token": API_TOKEN,
        "queue": "support",
        **changes,
    }


async def chatlayer_hub(
    hub_factory,
    fake: FakeChatlayer,
    *,
    chain: tuple[tuple[str, dict[str, Any]], ...] = (("live", {}),),
    queue: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    **overrides: Any,
):
    settings: dict[str, Any] = {
        "providers": {name: {"type": "scripted", **config} for name, config in chain},
        "queues": [{"name": "support", "chain": [name for name, _ in chain], **(queue or {})}],
        "bots": {BOT: {"name": "Shop bot"}},
        "allow_private_urls": True,
        "chatlayer": {"shop": integration(fake, **(changes or {}))},
    }
    return await hub_factory(**{**settings, **overrides})


@pytest.fixture
async def hub(hub_factory, fake):
    return await chatlayer_hub(hub_factory, fake)


async def post(hub, body: Any, *, token: str | None = VERIFY_TOKEN, expect: int = 200, **kw: Any):
    params = {} if token is None else {"challenge.verifyToken": token}
    response = await hub.client.post("/v1/chatlayer/shop", params=params, json=body, **kw)
    data = await response.json()
    assert response.status == expect, (response.status, data)
    return data


def text(value: str) -> dict[str, Any]:
    return {"sendMessages": [{"textMessageTemplate": {"textMessages": [{"text": value}]}}]}


# -- the health check ---------------------------------------------------------------------


@bounded()
async def test_the_health_check_answers_ok_with_the_verify_token(hub):
    # Exactly as Chatlayer calls it when the webhook is saved.
    response = await hub.client.get(f"/v1/chatlayer/shop?challenge.verifyToken={VERIFY_TOKEN}")
    assert (response.status, await response.json()) == (200, {"status": "ok"})


@bounded()
async def test_a_wrong_or_missing_token_and_an_unknown_integration(hub):
    for path, status, code in [
        ("/v1/chatlayer/shop?challenge.verifyToken=topsecretverifytokeX", 403, "invalid_token"),
        ("/v1/chatlayer/shop?challenge.verifyToken=", 401, "missing_token"),
        ("/v1/chatlayer/shop", 401, "missing_token"),
        ("/v1/chatlayer/shop?verifyToken=topsecretverifytoken", 401, "missing_token"),
        (f"/v1/chatlayer/other?challenge.verifyToken={VERIFY_TOKEN}", 404, "unknown_integration"),
    ]:
        for method in ("GET", "POST"):
            response = await hub.client.request(method, path, json=TEXT_BOT)
            body = await response.json()
            assert (response.status, body["error"]["code"]) == (status, code), (method, path)
            assert body["error"]["message"]


# -- a whole offload ----------------------------------------------------------------------


def intro(session: str) -> dict[str, Any]:
    item = copy.deepcopy(INTRO_USER["messages"][0])
    item["message"]["sender"]["id"] = session
    item["message"]["timestamp"] = item["timestamp"] = "2021-11-15T08:36:05.000Z"
    return item


async def offloaded(hub, session: str = SESSION, **changes: Any) -> str:
    """Chatlayer's messages before the offload, then the offload; returns the conversation."""
    answer = await post(
        hub,
        messages(
            session,
            intro(session),
            bot_says("Hi Welcome", "2021-11-15T08:36:11.991Z"),
            user_says(session, "I want to talk to a human", "u1", "2021-11-15T08:36:20.000Z"),
        ),
    )
    assert answer == {"status": "ok", "recorded": 3, "relayed": 0}
    answer = await post(hub, offload(session, payload={"topic": "billing"}, **changes))
    assert answer == {
        "offloadSuccess": True,
        "pauseBot": True,
        "offloading": "opened",
        "conversationId": answer["conversationId"],
        "status": "queued",
    }
    return answer["conversationId"]


@bounded()
async def test_a_whole_offload_from_the_bot_to_an_agent_and_back(hub, fake):
    cid = await offloaded(hub)
    live = hub.provider()
    (handoff,) = live.called("open")
    assert (handoff.bot_id, handoff.session_id, handoff.queue) == (BOT, SESSION, "support")
    assert handoff.data == {"topic": "billing"}
    assert handoff.inquiry == "I want to talk to a human"
    assert (handoff.user.name, handoff.user.language) == ("Guest", "en")
    assert handoff.user.extra["chatlayer"]["botId"] == CHATLAYER_BOT
    assert [(item.user, item.message) for item in handoff.transcript] == [
        ("assistant", "Hi Welcome"),
        (
            "assistant",
            "Choose what you want to do?\nOptions: Do API FROM CODE | Api Plugin | carousel"
            " | first options",
        ),
        ("guest", "first options"),
        ("assistant", "What do you want to do?\nButtons: Set Variables | offload"),
        ("guest", "I want to talk to a human"),
    ]

    # The agent joins and answers; the user answers back through Chatlayer.
    context = live.context
    await context.agent_joined(cid, Agent("a1", "Ana"))
    await context.agent_message(
        cid, 'Hello, I am <b>Ana</b>. Read <a href="https://docs.example.com">the docs</a>.'
    )
    answer = await post(
        hub,
        messages(
            SESSION,
            user_says(SESSION, "Thanks!", "u2", "2021-11-15T08:37:00.000Z"),
            version="DRAFT",
        ),
    )
    assert answer == {"status": "ok", "recorded": 1, "relayed": 1}
    await hub.settled()
    assert [m.text for m in live.delivered] == ["Thanks!"]

    # The agent closes the chat: the user hears it and the bot takes over again.
    await context.conversation_closed(cid)
    await hub.settled()
    assert [action.body for action in fake.actions] == [
        text("Ana joined the chat."),
        text("Hello, I am Ana. Read the docs (https://docs.example.com)."),
        text("The chat has ended."),
        {"pauseBot": False},
    ]
    assert {(a.bot_id, a.session_id, a.version) for a in fake.actions} == {
        (CHATLAYER_BOT, SESSION, "DRAFT")
    }

    # Back with the bot: the user's messages are the bot's again.
    answer = await post(
        hub, messages(SESSION, user_says(SESSION, "bye", "u3", "2021-11-15T08:39:00.000Z"))
    )
    assert answer == {"status": "ok", "recorded": 1, "relayed": 0}
    await hub.settled()
    assert [m.text for m in live.delivered] == ["Thanks!"]
    assert len(fake.actions) == 4


@bounded()
async def test_a_repeated_offload_returns_the_same_conversation(hub):
    cid = await offloaded(hub)
    again = await post(hub, offload(payload={"topic": "billing"}))  # Chatlayer retried it
    later = await post(hub, offload(timestamp="2021-11-15T08:38:00.000Z"))  # asked again
    assert again["conversationId"] == later["conversationId"] == cid
    assert again["offloadSuccess"] and later["offloadSuccess"]
    replay = await post(hub, messages(SESSION, bot_says("Hi Welcome", "2021-11-15T08:36:11.991Z")))
    assert replay["recorded"] == 0
    assert (await database_state(hub))["conversations"] == 1
    assert len(hub.provider().called("open")) == 1


@bounded()
async def test_a_provider_that_assigns_at_once(hub_factory, fake):
    hub = await chatlayer_hub(hub_factory, fake, chain=(("live", {"mode": "assign"}),))
    answer = await post(hub, offload())
    assert (answer["offloadSuccess"], answer["status"]) == (True, "assigned")
    await hub.settled()
    assert [action.body for action in fake.actions] == [text("Ana joined the chat.")]


@bounded()
async def test_the_bots_other_conversations_are_not_sent_to_chatlayer(hub_factory, fake):
    secret = "sk_" + "s" * 40
    hub = await chatlayer_hub(hub_factory, fake, bots={BOT: {"name": "Shop", "secret": secret}})
    chatbot = Chatbot(hub.client, BOT, secret)
    # Through the v1 API, even with user data that looks like a Chatlayer offload's: the
    # hub marks the channel itself, so this claims no Chatlayer session.
    forged = {"extra": {"chatlayer": {"integration": "shop", "sessionId": SESSION}}}
    cid = (await chatbot.escalate(SESSION, user=forged, expect=201))["conversationId"]
    context = hub.provider().context
    await context.agent_joined(cid, Agent("a1", "Ana"))
    await context.agent_message(cid, "Hello")
    await context.conversation_closed(cid)
    await hub.settled()
    assert fake.actions == fake.attempts == []
    async with hub.app[keys.DATABASE].read() as conn:
        assert await dead_letters(conn=conn) == []


# -- when nobody can take it --------------------------------------------------------------

REFUSALS = {
    "no agents": (
        {"chain": (("desk", {"mode": "no-agents"}),)},
        {"reason": "no-agents", "offloading": "disabled", "status": "ended"},
    ),
    "closed": (
        {"chain": (("desk", {"mode": "closed"}),)},
        {"reason": "out-of-hours", "offloading": "closed", "status": "ended"},
    ),
    "ticket": (
        {"chain": (("desk", {"mode": "no-agents"}), ("mail", {"mode": "ticket"}))},
        {"reason": "ticket", "offloading": "closed", "status": "ticket"},
    ),
    "queue disabled": (
        {"queue": {"enabled": False}},
        {"reason": "disabled", "offloading": "disabled", "status": "ended"},
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
@bounded()
async def test_the_answer_says_why_nobody_took_it(hub_factory, fake, case):
    config, expected = REFUSALS[case]
    hub = await chatlayer_hub(hub_factory, fake, **config)
    answer = await post(hub, offload())
    cid = answer.pop("conversationId")
    if case == "ticket":
        expected = {**expected, "ticketId": f"T-{cid[-6:]}"}
    assert answer == {"offloadSuccess": False, "pauseBot": False, **expected}
    await hub.settled()
    assert fake.actions == []  # the bot never paused: nothing to say, nothing to resume


@bounded()
async def test_a_version_the_integration_does_not_take(hub_factory, fake):
    hub = await chatlayer_hub(hub_factory, fake, changes={"versions": ["LIVE"]})
    before = await database_state(hub)
    assert await post(hub, TEXT_USER) == {
        "status": "ok",
        "recorded": 0,
        "relayed": 0,
        "ignored": "this integration does not take DRAFT",
    }
    assert await post(hub, offload()) == {
        "offloadSuccess": False,
        "pauseBot": False,
        "offloading": "disabled",
        "reason": "disabled",
    }
    assert await database_state(hub) == before
    live = offload(version="LIVE")
    assert (await post(hub, live))["offloadSuccess"]


@bounded()
async def test_a_disabled_hub_bot_takes_no_offload(hub, fake):
    from hub.store.bots import set_bot_disabled

    async with hub.app[keys.DATABASE].writer.begin() as conn:
        await set_bot_disabled(BOT, True, conn=conn)
    answer = await post(hub, offload())
    assert (answer["offloadSuccess"], answer["reason"]) == (False, "disabled")
    assert (await database_state(hub))["conversations"] == 0


@bounded()
async def test_a_wait_limit_that_runs_out_after_the_offload_is_told_and_resumes(hub_factory, fake):
    clock = ManualClock()
    hub = await chatlayer_hub(
        hub_factory,
        fake,
        clock=clock,
        chain=(("live", {}), ("mail", {"mode": "ticket"})),
        queue={"chain": [{"provider": "live", "wait_limit": 60}, "mail"]},
        lifecycle={"tick_seconds": 3600, "position_refresh_seconds": 3600},
    )
    cid = await offloaded(hub)  # taken: queued at "live"; Chatlayer pauses the bot
    clock.advance(61)
    await hub.app[keys.LIFECYCLE].tick()
    await hub.settled()
    assert [action.body for action in fake.actions] == [
        text("Sorry, no one can answer right now."),
        text(f"We made ticket T-{cid[-6:]} of your question; we will get back to you."),
        {"pauseBot": False},
    ]


# -- the transcript of every message structure --------------------------------------------


def _items(*events: dict[str, Any]) -> list[HistoryItem]:
    return [
        HistoryItem.of(item["actor"], item["message"], item.get("timestamp"))
        for event in events
        for item in event.get("messages", event.get("transcript", []))
    ]


@bounded()
async def test_every_documented_message_structure_reads_as_text():
    converted = build_transcript(
        _items(
            INTRO_USER,
            TEXT_BOT,
            QUICK_REPLIES_BOT,
            CAROUSEL_BOT,
            TEXT_USER,
            UPLOAD_USER,
            LOCATION_USER,
            POSTBACK_USER,
            {"messages": [{"actor": "bot", "message": BUTTON_TEMPLATE, "timestamp": None}]},
            {
                "messages": [
                    {
                        "actor": "bot",
                        "message": {
                            "attachment": {"type": "image", "payload": {"url": "https://x/y.png"}}
                        },
                        "timestamp": "2021-11-15T08:40:00.000Z",
                    },
                    {"actor": "user", "message": {"messageType": "sticker"}, "timestamp": None},
                ]
            },
        ),
        max_chars=10_000,
        max_items=200,
    )
    assert [(item["user"], item["kind"], item["message"]) for item in converted] == [
        ("assistant", "text", "Hi Welcome"),  # 07:38:31
        ("assistant", "text", "Hi Welcome"),  # 07:47:08.383, another session's
        (
            "assistant",
            "quickReplies",
            "Choose what you want to do?\nOptions: Do API FROM CODE | Api Plugin | "
            "SendMessageFromCode",
        ),
        (
            "assistant",
            "generic",
            "- Item 1\n  Buttons: Docs (https://docs.chatlayer.ai)\n- Item 2: Item 2 Subtitle\n"
            "  Buttons: Docs (https://docs.chatlayer.ai)",
        ),
        ("guest", "text", "hi there"),  # 08:26:13 (the intro at 08:28 says nothing)
        ("guest", "location", "Shared a location: 0, 0"),
        ("guest", "fileUploadInputResult", f"Sent a file: {FILE_URL}"),  # 08:29:38
        ("guest", "postback", "Set Variables"),  # 08:33:39
        ("assistant", "button", "What do you want to do?\nButtons: Set Variables | offload"),
        ("assistant", "image", "[image] https://x/y.png"),  # 08:40
        ("guest", "sticker", "[sticker]"),  # no time: after the one before it
    ]
    first = converted[4]
    assert first == {
        "user": "guest",
        "message": "hi there",
        "kind": "text",
        "datetime": "2021-11-15T08:26:13.154Z",
        "id": "619219a5cdee7f9f1b6ee5f7",
    }
    short = build_transcript(_items(TEXT_USER, QUICK_REPLIES_BOT), max_chars=10, max_items=1)
    assert short == [
        {
            "user": "guest",
            "message": "hi there",
            "kind": "text",
            "datetime": "2021-11-15T08:26:13.154Z",
            "id": "619219a5cdee7f9f1b6ee5f7",
        }
    ]
    assert build_transcript(_items(QUICK_REPLIES_BOT), max_chars=10, max_items=5)[1]["message"] == (
        "Choose wh…"
    )


@bounded()
async def test_every_documented_structure_reaches_the_agent(hub):
    session = "emulator-all-structures"
    for event in (
        INTRO_USER,
        TEXT_BOT,
        QUICK_REPLIES_BOT,
        CAROUSEL_BOT,
        TEXT_USER,
        UPLOAD_USER,
        LOCATION_USER,
        POSTBACK_USER,
    ):
        assert (await post(hub, {**event, "sessionId": session}))["status"] == "ok"
    await post(hub, offload(session, transcript=[]))
    (handoff,) = hub.provider().called("open")
    kinds = [item.extra["kind"] for item in handoff.transcript]
    assert kinds == [
        "text",
        "text",
        "quickReplies",
        "generic",
        "text",
        "location",
        "fileUploadInputResult",
        "postback",
    ]
    assert handoff.inquiry == "Set Variables"  # the user's last word (a postback)
    assert handoff.user.name == "Guest"  # the last sender that has a name


# -- delivery: order, retries, dead letters -----------------------------------------------


async def whole_chat(hub) -> str:
    cid = await offloaded(hub)
    context = hub.provider().context
    await context.agent_joined(cid, Agent("a1", "Ana"))
    for n in range(3):
        await context.agent_message(cid, f"message {n}")
    await context.conversation_closed(cid)
    await hub.settled()
    return cid


EXPECTED_CHAT = [
    text("Ana joined the chat."),
    text("message 0"),
    text("message 1"),
    text("message 2"),
    text("The chat has ended."),
    {"pauseBot": False},
]


@bounded()
async def test_a_failing_api_gets_everything_in_order_once_it_recovers(hub, fake):
    fake.fail_next = 3
    await whole_chat(hub)
    assert [action.body for action in fake.actions] == EXPECTED_CHAT  # in order, once each
    assert fake.attempts[:4] == [text("Ana joined the chat.")] * 4  # the first one, retried
    async with hub.app[keys.DATABASE].read() as conn:
        assert await dead_letters(conn=conn, kind="chatlayer") == []


@bounded()
async def test_a_wrong_api_token_is_retried_then_dead_lettered_and_sent_again(hub_factory, fake):
    hub = await chatlayer_hub(hub_factory, fake, callback_attempts=2)
    fake.token = "another token"
    cid = await whole_chat(hub)
    assert fake.actions == []
    async with hub.app[keys.DATABASE].read() as conn:
        dead = await dead_letters(conn=conn, kind="chatlayer")
    assert len(dead) == 6
    assert all(row["attempts"] == 2 for row in dead)
    assert all("Chatlayer rejected the hub's credentials" in row["last_error"] for row in dead)
    assert {row["conversation_id"] for row in dead} == {cid}
    fake.token = API_TOKEN  # the operator fixes the token; an admin sends them again
    for row in sorted(dead, key=lambda row: row["id"]):
        assert await hub.app[keys.DISPATCHER].redeliver(row["event_id"])
    await hub.settled()
    assert [action.body for action in fake.actions] == EXPECTED_CHAT


@bounded()
async def test_a_refusal_is_dead_lettered_at_once(hub, fake):
    fake.answer = 404
    cid = await offloaded(hub)
    await hub.provider().context.agent_message(cid, "hello?")
    await hub.settled()
    async with hub.app[keys.DATABASE].read() as conn:
        (dead,) = await dead_letters(conn=conn, kind="chatlayer")
    assert (dead["attempts"], dead["event_id"]) == (1, f"cl:{cid}:{dead['payload']['seq']}")
    assert "Chatlayer refused" in dead["last_error"]


@bounded()
async def test_calls_to_a_private_address_are_refused_unless_allowed(hub_factory, fake):
    hub = await chatlayer_hub(hub_factory, fake, allow_private_urls=False)
    cid = await offloaded(hub)
    await hub.provider().context.agent_message(cid, "hello?")
    await hub.settled()
    async with hub.app[keys.DATABASE].read() as conn:
        (dead,) = await dead_letters(conn=conn, kind="chatlayer")
    assert "refusing to call" in dead["last_error"]
    assert fake.attempts == []


@bounded()
async def test_typing_reads_and_queue_updates_are_not_sent(hub, fake):
    cid = await offloaded(hub)
    context = hub.provider().context
    await context.queue_update(cid, 3, 120)
    await context.agent_joined(cid, Agent("a1", "Ana", icon_url="https://example.com/ana.png"))
    await context.agent_typing(cid, True)
    await post(
        hub, messages(SESSION, user_says(SESSION, "still there?", "u9", "2021-11-15T08:37:00.000Z"))
    )
    await hub.settled()
    (delivered,) = hub.provider().delivered
    await context.message_status(cid, delivered.id, "read")
    await context.agent_typing(cid, False)
    await hub.settled()
    assert [action.body for action in fake.actions] == [text("Ana joined the chat.")]


@bounded()
async def test_the_integrations_words_and_the_agents_name(hub_factory, fake):
    hub = await chatlayer_hub(
        hub_factory,
        fake,
        changes={
            "show_agent_name": True,
            "texts": {"agent-joined": "", "queue-position": "You are number {position}."},
        },
    )
    cid = await offloaded(hub)
    context = hub.provider().context
    await context.agent_joined(cid, Agent("a1", "Ana"))
    await context.agent_message(cid, "Hi")
    await context.conversation_closed(cid)
    await hub.settled()
    assert [action.body for action in fake.actions] == [
        text("You are number 1."),
        text("Ana: Hi"),
        text("The chat has ended."),
        {"pauseBot": False},
    ]


# -- the hand-back to the bot -------------------------------------------------------------

HAND_BACKS = {
    "conversation-action": ({"pauseBot": False}, None),
    "dialogstate": (
        None,
        {"botId": CHATLAYER_BOT, "senderId": SESSION, "action": {"nextDialogstate": "d-after"}},
    ),
    "session-variables": (
        None,
        {
            "botId": CHATLAYER_BOT,
            "senderId": SESSION,
            "session": {"namespace": "internal", "data": {"isPaused": False, "offload": False}},
        },
    ),
    "none": (None, None),
}


@pytest.mark.parametrize("strategy", sorted(HAND_BACKS))
@bounded()
async def test_each_hand_back_strategy_makes_its_call(hub_factory, fake, strategy):
    changes: dict[str, Any] = {"hand_back": strategy}
    if strategy == "dialogstate":
        changes["resume_dialogstate"] = "d-after"
    hub = await chatlayer_hub(hub_factory, fake, changes=changes)
    cid = await offloaded(hub)
    await hub.provider().context.conversation_closed(cid)
    await hub.settled()
    action, webview = HAND_BACKS[strategy]
    assert fake.actions[-1].body == (action or text("The chat has ended."))
    assert fake.webviews == ([webview] if webview else [])


@bounded()
async def test_a_failed_hand_back_is_logged_counted_and_shown_with_the_dead_letters(
    hub, fake, caplog
):
    fake.refuse_hand_back = True
    cid = await offloaded(hub)
    await hub.provider().context.conversation_closed(cid)
    await hub.settled()
    async with hub.app[keys.DATABASE].read() as conn:
        (dead,) = await dead_letters(conn=conn, kind="chatlayer")
    assert (dead["kind"], dead["conversation_id"]) == ("resume", cid)
    assert "Chatlayer refused" in dead["last_error"]
    (line,) = [r.getMessage() for r in caplog.records if "hand-back" in r.getMessage()]
    assert f"session {SESSION} (integration shop, conversation {cid}) failed for good" in line
    assert "The bot stays paused for this user: check hand_back (conversation-action)" in line
    samples = await scrape(hub)
    assert value(samples, "offload_hub_chatlayer_hand_backs_failed", integration="shop") == 1

    # An admin sees it as a hand-back, and how many users wait with a paused bot.
    await add_agent(hub, "Boss", role="admin", online=False)
    boss = await agent_session(hub.client)
    try:
        await boss.sign_in("boss@example.com")
        listing = await (await boss.get("/dashboard/admin/deliveries")).text()
    finally:
        await boss.close()
    assert "1 Chatlayer user is\n  still with a paused bot" in listing
    assert "Hand-back to the bot" in listing
    assert dead["event_id"] in listing

    # Fixed on Chatlayer's side: sent again, the bot takes over.
    fake.refuse_hand_back = False
    assert await hub.app[keys.DISPATCHER].redeliver(dead["event_id"])
    await hub.settled()
    assert fake.actions[-1].body == {"pauseBot": False}
    samples = await scrape(hub)
    assert "offload_hub_chatlayer_hand_backs_failed" not in {name for name, _ in samples}


@bounded()
async def test_an_agents_file_reaches_the_user_as_a_link_that_works(hub, fake):
    cid = await offloaded(hub)
    context = hub.provider().context
    await context.agent_joined(cid, Agent("a1", "Ana"))
    image = await context.store_media(cid, "map.png", "image/png", b"\x89PNG fake")
    await context.agent_message(cid, "Here is the map", media_id=image.id)
    document = await context.store_media(cid, "terms.pdf", "application/pdf", b"%PDF fake")
    await context.agent_message(cid, "", media_id=document.id)
    await hub.settled()
    _, with_image, with_document = fake.actions
    first, second = with_image.body["sendMessages"]
    assert first == {"textMessageTemplate": {"textMessages": [{"text": "Here is the map"}]}}
    link = URL(second["attachmentTemplate"]["media"]["url"])
    assert second["attachmentTemplate"]["media"]["type"] == "image"
    response = await hub.client.get(link.path_qs)
    assert (response.status, await response.read()) == (200, b"\x89PNG fake")
    (words,) = with_document.texts
    assert words.startswith("terms.pdf: http")
    response = await hub.client.get(URL(words.split(": ", 1)[1]).path_qs)
    assert (response.status, await response.read()) == (200, b"%PDF fake")


# -- the kept history ---------------------------------------------------------------------


@bounded()
async def test_the_history_is_bounded_and_forgotten_when_quiet(hub_factory, fake):
    hub = await chatlayer_hub(hub_factory, fake, changes={"history_limit": 3})
    channel = hub.app[keys.CHATLAYER]
    for n in range(5):
        stamp = f"2021-11-15T08:0{n}:00.000Z"
        await post(hub, messages("quiet", user_says("quiet", f"q{n}", f"q{n}", stamp)))
        await post(hub, messages("busy", user_says("busy", f"b{n}", f"b{n}", stamp)))
    kept = await channel.history.load("shop", "quiet")
    assert [item.message["text"] for item in kept] == ["q2", "q3", "q4"]
    await post(hub, offload("busy"))  # an open conversation keeps its session
    now = hub.app[keys.CLOCK].now()
    assert await channel.purge(now + timedelta(hours=23)) == 0
    assert await channel.purge(now + timedelta(hours=25)) == 1
    assert await channel.history.load("shop", "quiet") == []
    assert len(await channel.history.load("shop", "busy")) == 3
    assert await channel.history.coordinates("shop", "busy") is not None
    assert hub.app[keys.SCHEDULER].get_job("chatlayer-history") is not None


@bounded()
async def test_the_history_lives_no_longer_than_the_conversations(hub_factory, fake):
    hub = await chatlayer_hub(
        hub_factory, fake, lifecycle={"retention_days": 0.5}, changes={"history_hours": 48}
    )
    channel = hub.app[keys.CHATLAYER]
    assert channel.history_ttl(channel.integrations["shop"]) == timedelta(hours=12)


# -- bad input ----------------------------------------------------------------------------


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


BAD = [
    ("malformed json", b'{"event": "messages",', "application/json", 400, "invalid_json"),
    ("not json at all", b"event=messages", "application/x-www-form-urlencoded", 415, None),
    ("not an object", b"[1, 2]", "application/json", 422, "validation_error"),
    ("no event", _without(TEXT_BOT, "event"), None, 422, "validation_error"),
    ("unknown event", {**TEXT_BOT, "event": "typing"}, None, 422, "unknown_event"),
    ("no session", _without(TEXT_BOT, "sessionId"), None, 422, "validation_error"),
    ("no bot id", _without(OFFLOAD, "botId"), None, 422, "validation_error"),
    ("unknown version", {**TEXT_BOT, "version": "BETA"}, None, 422, "validation_error"),
    ("no messages", _without(TEXT_BOT, "messages"), None, 422, "validation_error"),
    ("messages not a list", {**TEXT_BOT, "messages": {"a": 1}}, None, 422, "validation_error"),
    (
        "an unknown actor",
        {**TEXT_BOT, "messages": [{"actor": "agent", "message": {"text": "x"}}]},
        None,
        422,
        "validation_error",
    ),
    (
        "a message that is not an object",
        {**TEXT_BOT, "messages": [{"actor": "bot", "message": "hi"}]},
        None,
        422,
        "validation_error",
    ),
    ("a transcript not a list", {**OFFLOAD, "transcript": "hi"}, None, 422, "validation_error"),
    ("a payload not an object", {**OFFLOAD, "payload": [1]}, None, 422, "validation_error"),
    ("an unknown queue", {**OFFLOAD, "payload": {"queue": "vip"}}, None, 422, "unknown_queue"),
    ("another Chatlayer bot", {**OFFLOAD, "botId": "someone-else"}, None, 403, "wrong_bot"),
    (
        "too large",
        {**TEXT_BOT, "messages": [bot_says("x" * 5000, "2021-11-15T08:00:00.000Z")]},
        None,
        413,
        "too_large",
    ),
]


@bounded(60)
async def test_bad_input_gets_a_clear_error_and_changes_nothing(hub_factory, fake):
    hub = await chatlayer_hub(
        hub_factory,
        fake,
        limits={"max_body_bytes": 4096},
        changes={"chatlayer_bot_id": CHATLAYER_BOT},
    )
    await offloaded(hub, "an-earlier-session")
    await hub.settled()
    before = await database_state(hub)
    for name, body, content_type, status, code in BAD:
        if content_type is None:
            data, content_type = json.dumps(body).encode(), "application/json"
        else:
            data = body
        response = await hub.client.post(
            "/v1/chatlayer/shop",
            params={"challenge.verifyToken": VERIFY_TOKEN},
            data=data,
            headers={"Content-Type": content_type},
        )
        answer = await response.json()
        assert response.status == status, (name, answer)
        assert set(answer) == {"error"} and answer["error"]["message"], name
        if code is not None:
            assert answer["error"]["code"] == code, (name, answer)
        assert await database_state(hub) == before, name
    for token in (None, "wrong-token-of-sixteen"):
        await post(hub, offload(), token=token, expect=401 if token is None else 403)
    assert await database_state(hub) == before
    await hub.settled()
    assert [action.body for action in fake.actions] == []


# -- configuration and the API document ---------------------------------------------------


@bounded()
async def test_configuration_errors_name_the_key(tmp_path):
    def load(toml: str) -> str:
        path = tmp_path / "hub.toml"
        path.write_text(toml)
        with pytest.raises(ConfigError) as error:
            load_settings(path)
        return str(error.value)

    base = '[chatlayer.shop]\nbot = "shop-bot"\napi_token = "t"\n'
    assert "chatlayer.shop.verify_token: Field required" in load(base)
    assert "chatlayer.shop.verify_token: must be at least 16 characters" in load(
        base + 'verify_token = "short"\n'
    )
    token = 'verify_token = "topsecretverifytoken"\n'
    assert "chatlayer.shop.verifytoken: unknown key" in load(base + token + 'verifytoken = "x"\n')
    assert "chatlayer.shop.bot: String should match pattern" in load(
        base.replace("shop-bot", "shop bot") + token
    )
    assert "chatlayer.shop.versions.0: Input should be 'DRAFT' or 'LIVE'" in load(
        base + token + 'versions = ["BETA"]\n'
    )
    assert "chatlayer: shop.queue: unknown queue 'vip' (configured: none)" in load(
        base + token + 'queue = "vip"\n'
    )
    assert "chatlayer: 'Shop' is not a valid name" in load(base.replace("shop]", "Shop]") + token)
    assert "chatlayer.shop.texts: 'hello' is not a system message" in load(
        base + token + 'texts = { hello = "Hi" }\n'
    )
    assert "chatlayer.shop.hand_back: Input should be 'conversation-action'" in load(
        base + token + 'hand_back = "unpause"\n'
    )
    assert "chatlayer.shop: hand_back 'dialogstate' needs resume_dialogstate" in load(
        base + token + 'hand_back = "dialogstate"\n'
    )
    assert "resume_dialogstate is only used with hand_back = 'dialogstate'" in load(
        base + token + 'resume_dialogstate = "d-1"\n'
    )
    twice = base + token + base.replace("shop]", "shop2]") + token
    assert "chatlayer: shop2.bot: bot 'shop-bot' already belongs to chatlayer.shop" in load(twice)


@bounded()
async def test_the_endpoint_is_in_the_api_document(hub):
    document = await (await hub.client.get("/v1/openapi.json")).json()
    operations = document["paths"]["/v1/chatlayer/{name}"]
    assert set(operations) == {"get", "post"}
    parameters = {p["name"] for p in operations["post"]["parameters"]}
    assert parameters == {"name", "challenge.verifyToken"}
    assert {"401", "403", "404", "413", "422"} <= set(operations["post"]["responses"])
