"""The chain: a closed, refusing, crashing or unhealthy provider hands the escalation on."""

from __future__ import annotations

from tests.hub.test_conversation import info


def chain_config(*steps: tuple[str, dict]) -> dict:
    providers = {name: {"type": "scripted", **config} for name, config in steps}
    return {
        "providers": providers,
        "queues": [{"name": "support", "chain": [name for name, _ in steps]}],
    }


async def test_the_chain_moves_past_closed_refusing_and_crashing_providers(hub_factory):
    hub = await hub_factory(
        **chain_config(
            ("closed", {"mode": "closed"}),
            ("full", {"mode": "refuse"}),
            ("broken", {"mode": "crash"}),
            ("sick", {"unhealthy": True}),
            ("live", {}),
        )
    )
    answer = await hub.chatbot.escalate(expect=201)
    assert answer["status"] == "queued"
    cid = answer["conversationId"]
    assert hub.provider("closed").called("open") == []
    assert len(hub.provider("full").called("open")) == 1
    assert len(hub.provider("broken").called("open")) == 1
    assert hub.provider("sick").called("availability") == []  # skipped without a call
    assert len(hub.provider("live").called("open")) == 1
    # The chatbot sees where it landed, not the detours.
    assert await hub.chatbot.actions(cid) == [
        (
            "displaySystemMessage",
            {
                "message": "queue-position",
                "translate": True,
                "replacements": {"position": 1, "estimatedWait": 60},
            },
        ),
        info(position=1, estimatedWait=60),
    ]
    # The provider that now holds it gets the user's messages; the others nothing.
    await hub.chatbot.send(cid, "c1", "hello")
    await hub.settled()
    assert [m.text for m in hub.provider("live").delivered] == ["hello"]
    assert hub.provider("full").called("deliver") == []


async def test_nobody_can_take_it_the_user_hears_why_and_is_back_with_the_bot(hub_factory):
    hub = await hub_factory(
        **chain_config(("desk", {"mode": "closed"}), ("partner", {"mode": "no-agents"}))
    )
    answer = await hub.chatbot.escalate(expect=201)
    assert (answer["status"], answer["reason"]) == ("ended", "closed")
    assert await hub.chatbot.actions(answer["conversationId"]) == [
        ("displaySystemMessage", {"message": "out-of-hours", "translate": True}),
        ("hideChatbotActivity", {}),
        ("setChatbotName", {"source": "default"}),
        ("setChatbotIcon", {"source": "default"}),
        ("enableInput", {}),
        info(
            (False, answer["conversationId"], hub.chatbot.bot_id),
            status="ended",
            provider=None,
            reason="closed",
        ),
    ]
    # Not dangling: the session can escalate again later.
    again = await hub.chatbot.escalate(expect=201)
    assert again["conversationId"] != answer["conversationId"]


async def test_no_agents_then_an_email_style_ticket(hub_factory):
    hub = await hub_factory(
        **chain_config(("desk", {"mode": "no-agents"}), ("mail", {"mode": "ticket"}))
    )
    answer = await hub.chatbot.escalate(expect=201)
    cid = answer["conversationId"]
    ticket = f"T-{cid[-6:]}"
    assert (answer["status"], answer["ticketId"]) == ("ticket", ticket)
    assert await hub.chatbot.actions(cid) == [
        ("displaySystemMessage", {"message": "no-agents", "translate": True}),
        (
            "displaySystemMessage",
            {"message": "ticket-created", "translate": True, "replacements": {"ticketId": ticket}},
        ),
        ("hideChatbotActivity", {}),
        ("setChatbotName", {"source": "default"}),
        ("setChatbotIcon", {"source": "default"}),
        ("enableInput", {}),
        info(
            (False, cid, hub.chatbot.bot_id),
            status="ticket",
            provider="mail",
            reason="ticket",
            ticketId=ticket,
        ),
    ]


async def test_a_provider_that_hangs_times_out_and_the_chain_moves_on(hub_factory):
    hub = await hub_factory(
        provider_timeout_seconds=0.3, **chain_config(("slow", {"mode": "hang"}), ("live", {}))
    )
    answer = await hub.chatbot.escalate(expect=201)
    assert answer["status"] == "queued"
    assert len(hub.provider("live").called("open")) == 1


async def test_a_provider_that_assigns_at_once(hub_factory):
    hub = await hub_factory(**chain_config(("live", {"mode": "assign"})))
    answer = await hub.chatbot.escalate(expect=201)
    assert answer["status"] == "assigned"
    actions = [a for a, _ in await hub.chatbot.actions(answer["conversationId"])]
    assert actions == ["setChatbotName", "displaySystemMessage", "setExternalInfo"]


async def test_queues_are_chosen_by_bot_language_and_skill(hub_factory):
    hub = await hub_factory(
        providers={
            "es": {"type": "scripted"},
            "billing": {"type": "scripted"},
            "general": {"type": "scripted"},
        },
        queues=[
            {"name": "spanish", "languages": ["es"], "chain": ["es"]},
            {"name": "billing", "skills": ["billing", "refunds"], "chain": ["billing"]},
            {"name": "general", "chain": ["general"]},
        ],
    )
    chatbot = hub.chatbot
    spanish = await chatbot.escalate("s1", user={"language": "es-MX"})
    billing = await chatbot.escalate("s2", skills=["refunds"])
    general = await chatbot.escalate("s3", user={"language": "fr"})
    named = await chatbot.escalate("s4", queue="billing")
    assert [a["queue"] for a in (spanish, billing, general, named)] == [
        "spanish",
        "billing",
        "general",
        "billing",
    ]
    error = await chatbot.escalate("s5", queue="nope", expect=422)
    assert error["error"]["code"] == "unknown_queue"


async def test_a_queue_limited_to_other_bots_is_not_chosen(hub_factory):
    hub = await hub_factory(
        providers={"vip": {"type": "scripted"}, "general": {"type": "scripted"}},
        queues=[
            {"name": "vip", "bots": ["vip-bot"], "chain": ["vip"]},
            {"name": "general", "chain": ["general"]},
        ],
    )
    assert (await hub.chatbot.escalate())["queue"] == "general"
    error = await hub.chatbot.escalate("s2", queue="vip", expect=422)
    assert "does not serve this bot" in error["error"]["message"]


async def test_availability_tells_the_bot_before_it_offers_a_human(hub_factory):
    hub = await hub_factory(
        providers={
            "desk": {"type": "scripted", "mode": "closed"},
            "mail": {"type": "scripted", "mode": "ticket"},
            "live": {"type": "scripted"},
        },
        queues=[
            {"name": "night", "languages": ["de"], "chain": ["desk", "mail"]},
            {"name": "day", "chain": ["live"]},
            {"name": "off", "enabled": False, "chain": ["live"]},
        ],
    )
    chatbot = hub.chatbot
    night = await chatbot.call("GET", "/v1/availability", params={"language": "de"})
    assert night == {
        "open": False,
        "reason": "closed",
        "queue": "night",
        "agentsOnline": 0,
        "estimatedWaitSeconds": None,
        "ticketFallback": True,
    }
    day = await chatbot.call("GET", "/v1/availability", params={"language": "en"})
    assert day == {
        "open": True,
        "reason": "open",
        "queue": "day",
        "agentsOnline": 2,
        "estimatedWaitSeconds": 60,
        "ticketFallback": False,
    }
    off = await chatbot.call("GET", "/v1/availability", params={"queue": "off"})
    assert (off["open"], off["reason"]) == (False, "disabled")
