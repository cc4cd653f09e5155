"""A whole conversation through a provider written with the SDK, as the chatbot sees it."""

from __future__ import annotations

import pytest

from providers import Agent, ConversationEnded
from providers.testing import RecordingContext

TRANSCRIPT = [
    {
        "user": "guest",
        "message": "Where is my order?",
        "datetime": "2026-11-23T09:58:00Z",
        "id": "t1",
    },
    {
        "user": "assistant",
        "message": "I can't find it. Shall I get you a human?",
        "datetime": "2026-11-23T09:58:05Z",
        "id": "t2",
        "type": "answer",
    },
]


def info(attended=None, **hub):
    """``setExternalInfo``; ``attended=(True|False, conversation id, bot id)`` when the
    conversation's attended outcome is first known (the keys Inbenta's escalation adapter
    reads)."""
    base = {
        "status": "queued",
        "queue": "support",
        "provider": "live",
        "position": None,
        "estimatedWait": None,
        "agent": None,
        "reason": None,
        "ticketId": None,
    }
    base.update(hub)
    data = {}
    if attended is not None:
        flag, chat_id, app_id = attended
        data = {"attended": flag, "chatId": chat_id, "appId": app_id, "region": None}
    return ("setExternalInfo", {**data, "hub": base})


async def test_whole_conversation_is_the_exact_sequence_of_envelopes(hub):
    chatbot = hub.chatbot
    provider = hub.provider()
    answer = await chatbot.escalate(
        "session-42",
        user={"name": "Jo", "lastName": "Doe", "email": "jo@example.com", "language": "en"},
        inquiry="My order is late",
        transcript=TRANSCRIPT,
        data={"orderId": "A-17"},
        expect=201,
    )
    cid = answer["conversationId"]
    assert answer["status"] == "queued"
    assert answer["position"] == 1
    assert answer["estimatedWait"] == 60
    assert answer["eventsUrl"] == f"/v1/conversations/{cid}/events"

    # The provider got everything the bot handed over.
    (handoff,) = provider.called("open")
    assert handoff.conversation_id == cid
    assert handoff.user.display_name == "Jo Doe"
    assert handoff.user.email == "jo@example.com"
    assert handoff.inquiry == "My order is late"
    assert [item.message for item in handoff.transcript] == [
        "Where is my order?",
        "I can't find it. Shall I get you a human?",
    ]
    assert handoff.transcript[1].extra == {"type": "answer"}
    assert handoff.data == {"orderId": "A-17"}

    ana = Agent("a1", "Ana", "https://cdn.example/ana.png")
    context = provider.context
    await context.agent_joined(cid, ana)
    await context.agent_typing(cid, True, agent=ana)
    await context.agent_typing(cid, True, agent=ana)  # a refresh shows nothing new
    await context.agent_typing(cid, False)
    hello_id = await context.agent_message(
        cid, "<b>Hello</b>, how can I help?<script>alert(1)</script>", agent=ana
    )

    sent = await chatbot.send(cid, "client-1", "Hi Ana, order A-17 please")
    await hub.settled()
    assert [m.text for m in provider.delivered] == ["Hi Ana, order A-17 please"]
    assert provider.delivered[0].id == sent["externalId"]
    await context.message_status(cid, sent["externalId"], "read")

    await chatbot.call(
        "POST", f"/v1/conversations/{cid}/read", conversation_id=cid, json={"upTo": hello_id}
    )
    await context.agent_profile(cid, Agent("a1", "Ana M.", "https://cdn.example/ana-2.png"))
    await chatbot.call(
        "POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={"reason": "resolved"}
    )
    await hub.settled()

    expected = [
        (
            "displaySystemMessage",
            {
                "message": "queue-position",
                "translate": True,
                "replacements": {"position": 1, "estimatedWait": 60},
            },
        ),
        info(position=1, estimatedWait=60),
        ("setChatbotName", {"source": "name", "name": "Ana"}),
        ("setChatbotIcon", {"source": "url", "url": "https://cdn.example/ana.png"}),
        (
            "displaySystemMessage",
            {"message": "agent-joined", "translate": True, "replacements": {"agentName": "Ana"}},
        ),
        info(
            (True, cid, chatbot.bot_id),
            status="assigned",
            agent={"id": "a1", "name": "Ana", "icon": "https://cdn.example/ana.png"},
        ),
        ("displayChatbotActivity", {"type": "writing", "name": "Ana"}),
        ("hideChatbotActivity", {}),
        (
            "displayChatbotMessage",
            {
                "type": "answer",
                "message": "<b>Hello</b>, how can I help?",
                "custom": {"externalId": hello_id, "agentId": "a1", "agentName": "Ana"},
            },
        ),
        (
            "updateMessage",
            {"id": "client-1", "action": "UPDATE_EXTERNAL", "newExternalId": sent["externalId"]},
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
            status="ended",
            reason="resolved",
            agent={"id": "a1", "name": "Ana M.", "icon": "https://cdn.example/ana-2.png"},
        ),
    ]
    events = await chatbot.events(cid)
    assert [(e["action"], e["data"]) for e in events] == expected
    assert [e["seq"] for e in events] == list(range(1, len(expected) + 1))
    assert all(e["conversationId"] == cid for e in events)
    assert sent["seq"] == 10

    # The provider heard the read receipt and the close; the agent side can say no more.
    assert provider.called("user_read") == [hello_id]
    (closing,) = provider.called("close")
    assert (closing.reason, closing.by, closing.conversation.ref) == (
        "resolved",
        "user",
        f"ref-{cid}",
    )
    try:
        await context.agent_message(cid, "anyone there?")
    except ConversationEnded:
        pass
    else:
        raise AssertionError("an ended conversation took an agent message")

    snapshot = await chatbot.call("GET", f"/v1/conversations/{cid}", conversation_id=cid)
    assert snapshot["status"] == "ended"
    assert snapshot["lastSeq"] == len(expected)
    assert [(m["author"], m["message"], m["status"]) for m in snapshot["messages"]] == [
        ("agent", "<b>Hello</b>, how can I help?", None),
        ("user", "Hi Ana, order A-17 please", "read"),
    ]


async def test_agent_closing_returns_the_chat_to_the_bot(hub):
    chatbot, context = hub.chatbot, hub.provider().context
    cid = (await chatbot.escalate())["conversationId"]
    await context.agent_joined(cid, Agent("a1", "Ana"))
    await context.agent_typing(cid, True)
    await context.conversation_closed(cid, "resolved-by-agent")
    tail = (await chatbot.actions(cid))[-6:]
    assert tail == [
        ("hideChatbotActivity", {}),
        ("setChatbotName", {"source": "default"}),
        ("setChatbotIcon", {"source": "default"}),
        ("displaySystemMessage", {"message": "chat-closed", "translate": True}),
        ("enableInput", {}),
        info(
            status="ended",
            reason="resolved-by-agent",
            agent={"id": "a1", "name": "Ana", "icon": None},
        ),
    ]
    # The bot side can no longer write, and the provider is not asked to close again.
    error = await chatbot.send(cid, "late", "hello?", expect=409)
    assert error["error"]["code"] == "conversation_ended"
    await hub.settled()
    assert hub.provider().called("close") == []


async def test_a_failing_provider_shows_waiting_then_error_tick(hub_factory):
    hub = await hub_factory(
        providers={"live": {"type": "scripted", "fail_deliveries": 99}},
        queues=[{"name": "support", "chain": ["live"]}],
        delivery_attempts=3,
    )
    cid = (await hub.chatbot.escalate())["conversationId"]
    sent = await hub.chatbot.send(cid, "c1", "hello")
    await hub.settled()
    assert len(hub.provider().called("deliver")) == 3
    ticks = [d for a, d in await hub.chatbot.actions(cid) if a == "updateMessage"]
    assert ticks == [
        {"id": "c1", "action": "UPDATE_EXTERNAL", "newExternalId": sent["externalId"]},
        {"externalId": sent["externalId"], "action": "WAITING_TICK"},
        {"externalId": sent["externalId"], "action": "ERROR_TICK"},
    ]
    snapshot = await hub.chatbot.call("GET", f"/v1/conversations/{cid}", conversation_id=cid)
    assert snapshot["messages"][0]["status"] == "failed"


async def test_a_provider_that_recovers_delivers_in_order_with_one_tick_each(hub_factory):
    hub = await hub_factory(
        providers={"live": {"type": "scripted", "fail_deliveries": 2}},
        queues=[{"name": "support", "chain": ["live"]}],
    )
    cid = (await hub.chatbot.escalate())["conversationId"]
    first = await hub.chatbot.send(cid, "c1", "one")
    second = await hub.chatbot.send(cid, "c2", "two")
    await hub.settled()
    assert [m.text for m in hub.provider().delivered] == ["one", "two"]
    ticks = [
        (d["externalId"], d["action"])
        for a, d in await hub.chatbot.actions(cid)
        if a == "updateMessage" and "externalId" in d
    ]
    # Each message waited (the second was held behind the first, which was failing), then
    # got one SINGLE_TICK; they were delivered in the order they were sent.
    for message in (first, second):
        assert [t for m, t in ticks if m == message["externalId"]] == [
            "WAITING_TICK",
            "SINGLE_TICK",
        ]
    singles = [m for m, t in ticks if t == "SINGLE_TICK"]
    assert singles == [first["externalId"], second["externalId"]]
    assert len(ticks) == len(set(ticks))


async def test_transfer_agent_left_then_new_agent_joins(hub):
    chatbot, context = hub.chatbot, hub.provider().context
    cid = (await chatbot.escalate())["conversationId"]
    await context.agent_joined(cid, Agent("a1", "Ana", "https://cdn.example/ana.png"))
    seen = len(await chatbot.events(cid))
    await context.agent_joined(cid, Agent("a2", "Ben"))
    assert await chatbot.actions(cid, after=seen) == [
        (
            "displaySystemMessage",
            {"message": "agent-left", "translate": True, "replacements": {"agentName": "Ana"}},
        ),
        ("setChatbotName", {"source": "name", "name": "Ben"}),
        ("setChatbotIcon", {"source": "default"}),
        (
            "displaySystemMessage",
            {"message": "agent-joined", "translate": True, "replacements": {"agentName": "Ben"}},
        ),
        info(status="assigned", agent={"id": "a2", "name": "Ben", "icon": None}),
    ]


async def test_queue_updates_reach_the_chatbot_only_when_they_change(hub):
    chatbot, context = hub.chatbot, hub.provider().context
    cid = (await chatbot.escalate())["conversationId"]
    seen = len(await chatbot.events(cid))
    await context.queue_update(cid, 1, 60)  # what it already was
    await context.queue_update(cid, 2, 120)
    assert await chatbot.actions(cid, after=seen) == [
        (
            "displaySystemMessage",
            {
                "message": "queue-position",
                "translate": True,
                "replacements": {"position": 2, "estimatedWait": 120},
            },
        ),
        info(position=2, estimatedWait=120),
    ]


async def test_a_position_told_while_the_open_runs_is_shown_once(hub_factory):
    """A provider may report the new conversation's place while its open() runs (the
    desk's dispatch beside it does); the open's answer then carries the same place, and
    the user must not read it twice."""
    hub = await hub_factory(
        providers={"live": {"type": "scripted", "announce_on_open": True}},
        queues=[{"name": "support", "chain": ["live"]}],
    )
    cid = (await hub.chatbot.escalate())["conversationId"]
    await hub.settled()
    told = [
        data
        for action, data in await hub.chatbot.actions(cid)
        if action == "displaySystemMessage" and data["message"] == "queue-position"
    ]
    assert told == [
        {
            "message": "queue-position",
            "translate": True,
            "replacements": {"position": 1, "estimatedWait": 60},
        }
    ]


async def test_agent_events_with_an_event_id_happen_once(hub):
    chatbot, context = hub.chatbot, hub.provider().context
    cid = (await chatbot.escalate())["conversationId"]
    await context.agent_joined(cid, Agent("a1", "Ana"), event_id="e-join")
    first = await context.agent_message(cid, "hello", event_id="e-msg")
    before = await chatbot.events(cid)
    await context.agent_joined(cid, Agent("a1", "Ana"), event_id="e-join")
    again = await context.agent_message(cid, "hello", event_id="e-msg")
    assert again == first
    assert await chatbot.events(cid) == before


async def test_a_provider_cannot_speak_about_another_instances_conversation(hub_factory):
    hub = await hub_factory(
        providers={"live": {"type": "scripted"}, "other": {"type": "scripted"}},
        queues=[{"name": "support", "chain": ["live"]}],
    )
    cid = (await hub.chatbot.escalate())["conversationId"]
    from providers import UnknownConversation

    for call in (
        hub.provider("other").context.agent_message(cid, "hijack"),
        hub.provider("other").context.agent_joined(cid, Agent("x", "Mallory")),
        hub.provider("live").context.agent_message("c_doesnotexist", "hello"),
    ):
        try:
            await call
        except UnknownConversation:
            continue
        raise AssertionError("a foreign conversation accepted a provider call")
    assert [a for a, _ in await hub.chatbot.actions(cid)] == [
        "displaySystemMessage",
        "setExternalInfo",
    ]


async def test_a_reply_to_a_ticket_is_recorded_not_shown(hub_factory):
    hub = await hub_factory(
        providers={"mail": {"type": "scripted", "mode": "ticket"}},
        queues=[{"name": "support", "chain": ["mail"]}],
    )
    cid = (await hub.chatbot.escalate(expect=201))["conversationId"]
    events = await hub.chatbot.events(cid)
    message_id = await hub.provider("mail").context.agent_message(
        cid, "We found your order.", agent=Agent("s1", "Support")
    )
    assert await hub.chatbot.events(cid) == events
    snapshot = await hub.chatbot.call("GET", f"/v1/conversations/{cid}", conversation_id=cid)
    assert [(m["externalId"], m["message"], m["agentName"]) for m in snapshot["messages"]] == [
        (message_id, "We found your order.", "Support")
    ]


async def test_the_hub_and_the_kit_refuse_the_same_bad_reports(hub):
    """The SDK checks these arguments once, for every context: the hub's and the kit's
    RecordingContext refuse the same calls with the same words, and nothing is recorded."""
    chatbot, context = hub.chatbot, hub.provider().context
    cid = (await chatbot.escalate())["conversationId"]
    before = await chatbot.actions(cid)
    kit = RecordingContext()
    kit.own(cid)
    bad_calls = [
        (lambda c: c.message_status(cid, "m_1", "seen"), "unknown message status 'seen'"),
        (
            lambda c: c.store_media(cid, "a.txt", "text/plain", b"a", event_id="e" * 201),
            "event_id is a string of 1 to 200 characters",
        ),
        (lambda c: c.request_transfer(cid), "give exactly one of queue, agent_id and next_step"),
        (
            lambda c: c.request_transfer(cid, queue="support", next_step=True),
            "give exactly one of queue, agent_id and next_step",
        ),
    ]
    for call, says in bad_calls:
        for each in (context, kit):
            with pytest.raises(ValueError) as refused:
                await call(each)
            assert str(refused.value) == says
    assert kit.calls == []
    assert await chatbot.actions(cid) == before
