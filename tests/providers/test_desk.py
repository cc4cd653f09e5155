"""The desk: the hub's own agents. Assignment, limits, presence, transfer, profile, as
the dashboard drives it, checked on the chatbot's stream and the agents' live channel."""

from __future__ import annotations

import asyncio

import pytest

from hub import keys
from hub.agents.presence import profile_changed, set_presence
from providers.workspace import DeskError

DESK = {"providers": {"desk": {"type": "desk"}}, "queues": [{"name": "support", "chain": ["desk"]}]}


class Desk:
    """A hub with the desk, and helpers to play its agents."""

    def __init__(self, hub):
        self.hub = hub
        self.app = hub.app
        self.chatbot = hub.chatbot

    @property
    def desk(self):
        return self.app[keys.WORKSPACE].desks["desk"]

    async def agent(self, name, *, online=True, **options):
        account = await self.app[keys.AGENTS].create(
            f"{name.lower()}@example.com", name, "correct horse battery", **options
        )
        if online:
            await set_presence(self.app, account.id, "online")
        return account.id

    async def waiting(self):
        return await self.app[keys.WORKSPACE].waiting("desk")

    async def offered(self, agent_id):
        return [w.conversation_id for w in await self.waiting() if w.offered_to == agent_id]

    async def escalate(self, session, **body):
        return (await self.chatbot.escalate(session, **body))["conversationId"]

    def listen(self, *audiences):
        return self.app[keys.LIVE].listen(audiences)


@pytest.fixture
async def desk(hub_factory):
    return Desk(await hub_factory(**DESK))


async def heard(listener, done, timeout=10.0):
    """What ``listener`` hears until ``done(events)`` holds (TimeoutError after ``timeout``)."""
    events = []
    async with asyncio.timeout(timeout):
        while not done(events):
            events.extend(await listener.wait())
    return events


async def hears(listener, *wanted):
    """What ``listener`` hears until every event of ``wanted`` is among it."""
    return await heard(listener, lambda events: all(event in events for event in wanted))


def kinds_of(events, conversation_id):
    return {e["type"] for e in events if e.get("conversationId") == conversation_id}


async def test_nobody_online_means_no_agents_and_the_chain_moves_on(hub_factory):
    hub = await hub_factory(
        providers={"desk": {"type": "desk"}, "mail": {"type": "scripted", "mode": "ticket"}},
        queues=[{"name": "support", "chain": ["desk", "mail"]}],
    )
    desk = Desk(hub)
    await desk.agent("Ana", online=False)
    availability = await hub.chatbot.call("GET", "/v1/availability")
    assert (availability["open"], availability["reason"]) == (False, "no-agents")
    assert availability["ticketFallback"] is True
    answer = await hub.chatbot.escalate(expect=201)
    assert answer["status"] == "ticket"
    assert [
        d["message"]
        for a, d in await hub.chatbot.actions(answer["conversationId"])
        if a == "displaySystemMessage"
    ] == ["no-agents", "ticket-created"]


async def test_offered_to_the_agent_who_accepts_and_the_chatbot_sees_them(desk):
    ana = await desk.agent("Ana", avatar_url="https://cdn.example/ana.png")
    inbox = desk.listen(ana, "desk:desk")
    availability = await desk.chatbot.call("GET", "/v1/availability")
    assert availability == {
        "open": True,
        "reason": "open",
        "queue": "support",
        "agentsOnline": 1,
        "estimatedWaitSeconds": None,  # no chat was taken yet: the hub does not guess
        "ticketFallback": False,
    }
    cid = await desk.escalate("s1", inquiry="late order")
    assert await desk.offered(ana) == [cid]
    await hears(inbox, {"type": "offer", "conversationId": cid})
    await desk.desk.accept(ana, cid)
    assert await desk.waiting() == []
    actions = await desk.chatbot.actions(cid)
    assert actions[-4:] == [
        ("setChatbotName", {"source": "name", "name": "Ana"}),
        ("setChatbotIcon", {"source": "url", "url": "https://cdn.example/ana.png"}),
        (
            "displaySystemMessage",
            {"message": "agent-joined", "translate": True, "replacements": {"agentName": "Ana"}},
        ),
        actions[-1],
    ]
    assert actions[-1][1]["hub"]["status"] == "assigned"


async def test_first_come_first_served_to_the_least_busy_agent(desk):
    ana = await desk.agent("Ana")
    ben = await desk.agent("Ben")
    first = await desk.escalate("s1")
    await desk.desk.accept(ana, first)  # Ana is busier now
    second = await desk.escalate("s2")
    third = await desk.escalate("s3")
    assert await desk.offered(ben) == [second]
    assert await desk.offered(ana) == [third]  # Ben (one offer) and Ana (one chat) tie: name


async def test_an_agent_at_their_limit_gets_no_more(desk):
    ana = await desk.agent("Ana", max_chats=1)
    first = await desk.escalate("s1")
    await desk.desk.accept(ana, first)
    second = await desk.escalate("s2")
    assert await desk.offered(ana) == []
    waiting = await desk.waiting()
    assert [w.conversation_id for w in waiting] == [second]
    with pytest.raises(DeskError) as refused:
        await desk.desk.accept(ana, second)
    assert refused.value.code == "at_capacity"
    answer = (await desk.chatbot.events(second))[-1]["data"]["hub"]
    assert (answer["status"], answer["position"]) == ("queued", 1)

    # Closing her chat frees her, and the waiting conversation is offered at once.
    await desk.desk.close_by(ana, first, "resolved")
    assert await desk.offered(ana) == [second]


async def test_going_offline_puts_offers_back_in_the_queue(desk):
    ana = await desk.agent("Ana")
    inbox = desk.listen(ana)
    cid = await desk.escalate("s1")
    assert await desk.offered(ana) == [cid]
    await hears(inbox, {"type": "offer", "conversationId": cid})
    await set_presence(desk.app, ana, "offline")
    assert await desk.offered(ana) == []
    assert [w.offered_to for w in await desk.waiting()] == [None]
    await hears(inbox, {"type": "offers.withdrawn", "conversationIds": [cid]})
    with pytest.raises(DeskError) as refused:
        await desk.desk.accept(ana, cid)
    assert refused.value.code == "offline"

    ben = await desk.agent("Ben")  # someone comes online: the offer goes to them
    assert await desk.offered(ben) == [cid]


async def test_away_agents_keep_their_chats_but_get_no_offers(desk):
    ana = await desk.agent("Ana")
    ben = await desk.agent("Ben", max_chats=1)
    first = await desk.escalate("s1")
    assert await desk.offered(ana) == [first]  # tie on load: Ana, by name
    await desk.desk.accept(ana, first)
    await set_presence(desk.app, ana, "away")
    second = await desk.escalate("s2")
    assert await desk.offered(ben) == [second]
    await desk.desk.accept(ben, second)  # Ben is now full; Ana is away
    third = await desk.escalate("s3")
    assert await desk.offered(ana) == []
    assert [w.conversation_id for w in await desk.waiting()] == [third]
    assert await desk.app[keys.WORKSPACE].holder(first) == ana
    # With nobody online at all the desk has no agents: the next one is not queued.
    await set_presence(desk.app, ben, "away")
    fourth = await desk.chatbot.escalate("s4", expect=201)
    assert (fourth["status"], fourth["reason"]) == ("ended", "no-agents")


async def test_a_conversation_is_taken_once(hub_factory):
    hub = await hub_factory(
        providers={"desk": {"type": "desk", "assignment": "manual"}},
        queues=[{"name": "support", "chain": ["desk"]}],
    )
    desk = Desk(hub)
    agents = [await desk.agent(name) for name in ("Ana", "Ben", "Cy", "Di")]
    cid = await desk.escalate("s1")
    assert await desk.offered(agents[0]) == []  # manual: nobody is offered anything
    results = await asyncio.gather(
        *(desk.desk.accept(a, cid) for a in agents), return_exceptions=True
    )
    winners = [a for a, r in zip(agents, results, strict=True) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, DeskError) and r.code == "taken" for r in results if r is not None)
    joined = [
        d
        for a, d in await hub.chatbot.actions(cid)
        if a == "displaySystemMessage" and d["message"] == "agent-joined"
    ]
    assert len(joined) == 1


async def test_only_the_holder_writes_and_an_admin_takes_over_explicitly(desk):
    ana = await desk.agent("Ana")
    ben = await desk.agent("Ben")
    boss = await desk.agent("Boss", role="admin")
    cid = await desk.escalate("s1")
    await desk.desk.accept(ana, cid)
    for who in (ben, boss):  # an admin, too, does not answer in someone else's chat
        for call in (
            desk.desk.reply(who, cid, "hijack"),
            desk.desk.typing(who, cid, True),
            desk.desk.close_by(who, cid, "mine now"),
            desk.desk.transfer_by(who, cid, to_agent=who),
        ):
            with pytest.raises(DeskError) as refused:
                await call
            assert refused.value.code == "not_yours"
    with pytest.raises(DeskError) as refused:
        await desk.desk.take_over(ben, cid)
    assert refused.value.code == "admins_only"

    ana_inbox = desk.listen(ana)
    seen = len(await desk.chatbot.events(cid))
    assert await desk.desk.take_over(boss, cid) == ana
    assert await desk.app[keys.WORKSPACE].holder(cid) == boss
    await hears(ana_inbox, {"type": "taken_over", "conversationId": cid, "by": "Boss"})
    told = [
        (a, d.get("message"), d.get("name"))
        for a, d in await desk.chatbot.actions(cid, after=seen)
        if a in ("displaySystemMessage", "setChatbotName")
    ]
    assert told == [
        ("displaySystemMessage", "agent-left", None),
        ("setChatbotName", None, "Boss"),
        ("displaySystemMessage", "agent-joined", None),
    ]
    message_id = await desk.desk.reply(boss, cid, "An admin took over")
    said = [d for a, d in await desk.chatbot.actions(cid) if a == "displayChatbotMessage"]
    assert said[-1]["custom"]["externalId"] == message_id
    with pytest.raises(DeskError):
        await desk.desk.reply(ana, cid, "still mine?")


async def test_who_may_act_in_a_chat_is_read_with_the_agent(desk):
    workspace = desk.app[keys.WORKSPACE]
    ana = await desk.agent("Ana")
    ben = await desk.agent("Ben")
    cid = await desk.escalate("s1")
    assert await workspace.agent_in_chat(ana, cid) == (await workspace.agent(ana), False)
    await desk.desk.accept(ana, cid)
    found, holds = await workspace.agent_in_chat(ana, cid)
    assert (found, holds) == (await workspace.agent(ana), True)
    assert (found.name, found.active) == ("Ana", 1)
    assert await workspace.agent_in_chat(ben, cid) == (await workspace.agent(ben), False)
    assert await workspace.agent_in_chat("a_nobody", cid) == (None, False)
    assert await workspace.agent_in_chat(ana, "c_unknown") == (await workspace.agent(ana), False)
    # An unknown or disabled agent is told so, not that the chat is someone else's.
    await desk.app[keys.AGENTS].set_disabled(ben, True)
    assert await workspace.agent_in_chat(ben, cid) == (None, False)
    for who in ("a_nobody", ben):
        with pytest.raises(DeskError) as refused:
            await desk.desk.reply(who, cid, "hello?")
        assert refused.value.code == "unknown_agent"
    await desk.desk.close_by(ana, cid, "done")
    assert await workspace.agent_in_chat(ana, cid) == (await workspace.agent(ana), False)


async def test_an_admin_watching_hears_both_sides_live(desk):
    ana = await desk.agent("Ana")
    await desk.agent("Boss", role="admin")
    cid = await desk.escalate("s1")
    await desk.desk.accept(ana, cid)
    watching = desk.listen(f"watch:{cid}")
    sent = await desk.chatbot.send(cid, "u1", "hello?")
    await desk.hub.settled()
    reply = await desk.desk.reply(ana, cid, "Hi, Ana here")
    await desk.desk.close_by(ana, cid, "resolved")
    events = await heard(
        watching,
        lambda events: (
            "message" in kinds_of(events, cid)
            and {"type": "agent.message", "conversationId": cid, "messageId": reply} in events
            and {"type": "closed", "conversationId": cid, "reason": "resolved", "by": "agent"}
            in events
        ),
    )
    message = next(e for e in events if e["type"] == "message")["message"]
    assert message["id"] == sent["externalId"]


async def test_transfer_to_another_agent(desk):
    ana = await desk.agent("Ana")
    ben = await desk.agent("Ben", avatar_url="https://cdn.example/ben.png")
    ben_inbox = desk.listen(ben)
    cid = await desk.escalate("s1")
    await desk.desk.accept(ana, cid)
    seen = len(await desk.chatbot.events(cid))
    await desk.desk.transfer_by(ana, cid, to_agent=ben)
    assert await desk.app[keys.WORKSPACE].holder(cid) == ben
    assert [a for a, _ in await desk.chatbot.actions(cid, after=seen)] == [
        "displaySystemMessage",
        "setChatbotName",
        "setChatbotIcon",
        "displaySystemMessage",
        "setExternalInfo",
    ]
    await hears(ben_inbox, {"type": "assigned", "conversationId": cid})


async def test_transfer_back_to_the_queue_goes_to_the_front(desk):
    ana = await desk.agent("Ana", max_chats=1)
    first = await desk.escalate("s1")
    await desk.desk.accept(ana, first)
    second = await desk.escalate("s2")
    seen = len(await desk.chatbot.events(first))
    await desk.desk.transfer_by(ana, first, to_queue="support")
    waiting = await desk.waiting()
    assert [w.conversation_id for w in waiting] == [first, second]
    after = await desk.chatbot.actions(first, after=seen)
    assert [(a, d.get("message")) for a, d in after] == [
        ("displaySystemMessage", "agent-left"),
        ("setChatbotName", None),
        ("setChatbotIcon", None),
        ("setExternalInfo", None),
        ("displaySystemMessage", "queue-position"),
        ("setExternalInfo", None),
    ]
    assert after[-1][1]["hub"]["position"] == 1
    # Ana is free again and is offered the oldest waiting conversation she did not just
    # send back (that one is not offered to her again for a while).
    assert await desk.offered(ana) == [second]


async def test_a_profile_change_reaches_every_chatbot_the_agent_talks_to(desk):
    ana = await desk.agent("Ana", max_chats=2)
    chats = [await desk.escalate(s) for s in ("s1", "s2")]
    for cid in chats:
        await desk.desk.accept(ana, cid)
    await desk.app[keys.AGENTS].update_profile(
        ana, display_name="Ana María", avatar_url="https://cdn.example/new.png"
    )
    await profile_changed(desk.app, ana)
    for cid in chats:
        assert (await desk.chatbot.actions(cid))[-2:] == [
            ("setChatbotName", {"source": "name", "name": "Ana María"}),
            ("setChatbotIcon", {"source": "url", "url": "https://cdn.example/new.png"}),
        ]


async def test_the_user_side_reaches_the_agent_live(desk):
    ana = await desk.agent("Ana")
    cid = await desk.escalate("s1")
    await desk.desk.accept(ana, cid)
    inbox = desk.listen(ana)
    sent = await desk.chatbot.send(cid, "c1", "hello Ana")
    await desk.hub.settled()
    await desk.chatbot.call(
        "POST", f"/v1/conversations/{cid}/typing", conversation_id=cid, json={"typing": True}
    )
    reply = await desk.desk.reply(ana, cid, "Hi!")
    await desk.chatbot.call(
        "POST", f"/v1/conversations/{cid}/read", conversation_id=cid, json={"upTo": reply}
    )
    await desk.hub.settled()
    events = await heard(inbox, lambda heard: {"message", "typing", "read"} <= kinds_of(heard, cid))
    message = next(e for e in events if e["type"] == "message")["message"]
    assert (message["id"], message["text"]) == (sent["externalId"], "hello Ana")
    # The chatbot saw its message accepted by the desk.
    ticks = [d["action"] for a, d in await desk.chatbot.actions(cid) if a == "updateMessage"]
    assert ticks == ["UPDATE_EXTERNAL", "SINGLE_TICK"]


async def test_queue_positions_move_up_as_conversations_are_taken(desk):
    ana = await desk.agent("Ana", max_chats=1, online=False)
    chats = [await desk.escalate(s) for s in ("s1", "s2", "s3")]
    positions = [(await desk.chatbot.events(c))[-1]["data"]["hub"]["position"] for c in chats]
    assert positions == [None, None, None]  # nobody online: no-agents, the chats ended
    await set_presence(desk.app, ana, "online")
    chats = [await desk.escalate(s) for s in ("t1", "t2", "t3")]
    await desk.desk.accept(ana, chats[0])
    last = [(await desk.chatbot.events(c))[-1]["data"]["hub"] for c in chats[1:]]
    assert [(h["status"], h["position"]) for h in last] == [("queued", 1), ("queued", 2)]
    positions = [
        d["replacements"]["position"]
        for c in chats[1:]
        for a, d in await desk.chatbot.actions(c)
        if a == "displaySystemMessage" and d["message"] == "queue-position"
    ]
    assert positions == [2, 1, 3, 2]  # told once per change, never twice the same


async def test_the_user_closing_takes_it_off_the_desk(desk):
    ana = await desk.agent("Ana", max_chats=1)
    first = await desk.escalate("s1")
    await desk.desk.accept(ana, first)
    second = await desk.escalate("s2")
    inbox = desk.listen(ana)
    await desk.chatbot.call(
        "POST", f"/v1/conversations/{first}/close", conversation_id=first, json={"reason": "thanks"}
    )
    await desk.hub.settled()
    closed = {"type": "closed", "conversationId": first, "reason": "thanks", "by": "user"}
    await hears(inbox, closed, {"type": "offer", "conversationId": second})
    assert await desk.offered(ana) == [second]


async def test_the_agent_reading_gives_the_user_double_ticks(desk):
    ana = await desk.agent("Ana")
    cid = await desk.escalate("s1")
    await desk.desk.accept(ana, cid)
    first = await desk.chatbot.send(cid, "c1", "one")
    second = await desk.chatbot.send(cid, "c2", "two")
    await desk.hub.settled()
    await desk.desk.mark_read(ana, cid, second["externalId"])
    ticks = [
        (d["externalId"], d["action"])
        for a, d in await desk.chatbot.actions(cid)
        if a == "updateMessage" and d["action"] == "DOUBLE_TICK"
    ]
    assert ticks == [(first["externalId"], "DOUBLE_TICK"), (second["externalId"], "DOUBLE_TICK")]
