"""The conversation lifecycle on the scheduler, with time driven by a controllable clock:
wait limits, business hours, typing and idle expiry, presence expiry, retention; and the
deadlines acted on exactly once (a double fire, two hub processes, a restart)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from hub import keys
from hub.agents.presence import presence_changed, set_presence
from hub.clock import ManualClock
from providers import Agent
from tests.hub.test_metrics import scrape, value
from tests.support.chatbot import start_hub

MONDAY_10_UTC = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
# The scheduler only runs its start-up pass: the tests tick the clock themselves.
MANUAL = {"tick_seconds": 3600, "position_refresh_seconds": 3600}


def lifecycle(**values):
    return {"lifecycle": {**MANUAL, **values}}


@pytest.fixture
def clock():
    return ManualClock(MONDAY_10_UTC)


async def tick(hub):
    return await hub.app[keys.LIFECYCLE].tick()


def messages(actions):
    return [d["message"] for a, d in actions if a == "displaySystemMessage"]


WAIT_THEN_TICKET = {
    "providers": {"live": {"type": "scripted"}, "mail": {"type": "scripted", "mode": "ticket"}},
    "queues": [{"name": "support", "chain": [{"provider": "live", "wait_limit": 60}, "mail"]}],
}


async def test_a_wait_limit_moves_the_conversation_to_the_next_step(hub_factory, clock):
    hub = await hub_factory(clock=clock, **WAIT_THEN_TICKET, **lifecycle())
    cid = (await hub.chatbot.escalate(expect=201))["conversationId"]
    clock.advance(59)
    assert (await tick(hub))["routing"] == 0
    clock.advance(2)
    assert (await tick(hub))["routing"] == 1
    await hub.settled()
    answer = await hub.chatbot.call("GET", f"/v1/conversations/{cid}", conversation_id=cid)
    assert (answer["status"], answer["provider"]) == ("ticket", "mail")
    assert messages(await hub.chatbot.actions(cid)) == [
        "queue-position",
        "no-agents",
        "ticket-created",
    ]
    (withdrawn,) = hub.provider("live").called("close")
    assert (withdrawn.reason, withdrawn.by) == ("wait-limit", "hub")
    # Firing again (late, twice) changes nothing.
    events = await hub.chatbot.events(cid)
    clock.advance(3600)
    assert (await tick(hub))["routing"] == 0
    assert await hub.chatbot.events(cid) == events


async def test_an_agent_taking_it_in_time_stops_the_clock(hub_factory, clock):
    hub = await hub_factory(clock=clock, **WAIT_THEN_TICKET, **lifecycle())
    cid = (await hub.chatbot.escalate(expect=201))["conversationId"]
    clock.advance(30)
    await hub.provider("live").context.agent_joined(cid, Agent("a1", "Ana"))
    clock.advance(60)
    assert (await tick(hub))["routing"] == 0
    assert hub.provider("mail").called("open") == []


async def test_the_desk_withdraws_a_conversation_whose_wait_ran_out(hub_factory, clock):
    hub = await hub_factory(
        clock=clock,
        providers={"desk": {"type": "desk"}, "mail": {"type": "scripted", "mode": "ticket"}},
        queues=[{"name": "support", "chain": [{"provider": "desk", "wait_limit": 120}, "mail"]}],
        **lifecycle(),
    )
    agents = hub.app[keys.AGENTS]
    ana = await agents.create("ana@example.com", "Ana", "correct horse battery", max_chats=1)
    await set_presence(hub.app, ana.id, "online")
    busy = (await hub.chatbot.escalate("s1"))["conversationId"]
    await hub.app[keys.WORKSPACE].desks["desk"].accept(ana.id, busy)
    waiting = (await hub.chatbot.escalate("s2"))["conversationId"]
    assert [w.conversation_id for w in await hub.app[keys.WORKSPACE].waiting("desk")] == [waiting]
    clock.advance(121)
    await agents.seen(ana.id)
    await tick(hub)
    await hub.settled()
    assert await hub.app[keys.WORKSPACE].waiting("desk") == []
    state = (await hub.chatbot.events(waiting))[-1]["data"]["hub"]
    assert (state["status"], state["provider"]) == ("ticket", "mail")


CLOSED_HOURS = {
    "timezone": "Europe/Madrid",
    "mon": ["09:00-17:00"],
    "tue": ["09:00-17:00"],
    "wed": ["09:00-17:00"],
    "thu": ["09:00-17:00"],
    "fri": ["09:00-14:00"],
    "holidays": ["2026-12-25"],
}


@pytest.mark.parametrize(
    ("moment", "open_now"),
    [
        (datetime(2026, 11, 23, 10, 0, tzinfo=UTC), True),  # Monday 11:00 in Madrid
        (datetime(2026, 11, 23, 16, 30, tzinfo=UTC), False),  # Monday 17:30 in Madrid
        (datetime(2026, 11, 27, 12, 30, tzinfo=UTC), True),  # Friday 13:30
        (datetime(2026, 11, 27, 13, 30, tzinfo=UTC), False),  # Friday 14:30
        (datetime(2026, 11, 28, 10, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 12, 25, 10, 0, tzinfo=UTC), False),  # a holiday (a Friday)
    ],
)
async def test_business_hours_decide_between_the_chain_and_out_of_hours(
    hub_factory, moment, open_now
):
    clock = ManualClock(moment)
    hub = await hub_factory(
        clock=clock,
        providers={"live": {"type": "scripted"}, "mail": {"type": "scripted", "mode": "ticket"}},
        queues=[
            {"name": "support", "chain": ["live"], "hours": CLOSED_HOURS, "out_of_hours": ["mail"]}
        ],
        **lifecycle(),
    )
    availability = await hub.chatbot.call("GET", "/v1/availability")
    answer = await hub.chatbot.escalate(expect=201)
    if open_now:
        assert availability["open"] is True
        assert (answer["status"], hub.provider("mail").called("open")) == ("queued", [])
    else:
        assert (availability["open"], availability["reason"]) == (False, "closed")
        assert availability["ticketFallback"] is True
        assert answer["status"] == "ticket"
        assert hub.provider("live").called("open") == []
        assert messages(await hub.chatbot.actions(answer["conversationId"])) == [
            "out-of-hours",
            "ticket-created",
        ]


async def test_closed_without_out_of_hours_steps_tells_the_user(hub_factory):
    hub = await hub_factory(
        clock=ManualClock(datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),  # a Saturday
        providers={"live": {"type": "scripted"}},
        queues=[{"name": "support", "chain": ["live"], "hours": CLOSED_HOURS}],
        **lifecycle(),
    )
    answer = await hub.chatbot.escalate(expect=201)
    assert (answer["status"], answer["reason"]) == ("ended", "closed")
    assert messages(await hub.chatbot.actions(answer["conversationId"])) == ["out-of-hours"]


async def test_typing_ends_by_itself_both_ways(hub, clock, hub_factory):
    hub = await hub_factory(
        clock=clock,
        providers={"live": {"type": "scripted"}},
        **lifecycle(agent_typing_seconds=6, user_typing_seconds=6),
    )
    chatbot, provider = hub.chatbot, hub.provider()
    cid = (await chatbot.escalate())["conversationId"]
    await provider.context.agent_joined(cid, Agent("a1", "Ana"))
    await provider.context.agent_typing(cid, True)
    typing = f"/v1/conversations/{cid}/typing"
    assert (await chatbot.call("POST", typing, conversation_id=cid, json={"typing": True}))[
        "forwarded"
    ] is True
    clock.advance(3)
    # A refresh keeps it going and is not passed on again.
    assert (await chatbot.call("POST", typing, conversation_id=cid, json={"typing": True}))[
        "forwarded"
    ] is False
    clock.advance(4)  # the agent's typing is 7s old, the user's refresh 4s
    assert (await tick(hub))["agent_typing"] == 1
    assert (await chatbot.actions(cid))[-1] == ("hideChatbotActivity", {})
    assert provider.called("user_typing") == [True]
    clock.advance(3)
    assert (await tick(hub))["user_typing"] == 1
    assert provider.called("user_typing") == [True, False]
    assert await tick(hub) == dict.fromkeys(
        ("agent_typing", "user_typing", "idle", "waiting", "routing", "presence", "offers"), 0
    )


async def test_an_idle_chat_is_warned_then_closed(hub_factory, clock):
    hub = await hub_factory(
        clock=clock,
        providers={"live": {"type": "scripted"}},
        **lifecycle(idle_warning_seconds=300, idle_close_seconds=120, wait_limit_seconds=7200),
    )
    chatbot, provider = hub.chatbot, hub.provider()
    cid = (await chatbot.escalate())["conversationId"]
    clock.advance(3600)  # waiting in the queue is not idling
    assert (await tick(hub))["idle"] == 0
    await provider.context.agent_joined(cid, Agent("a1", "Ana"))
    clock.advance(299)
    assert (await tick(hub))["idle"] == 0
    clock.advance(2)
    assert (await tick(hub))["idle"] == 1
    assert (await chatbot.actions(cid))[-1] == (
        "displaySystemMessage",
        {"message": "idle-warning", "translate": True, "replacements": {"minutes": 2}},
    )
    await chatbot.send(cid, "c1", "still here!")  # the clock starts again
    await hub.settled()  # delivered (and ticked) before the clock moves on
    clock.advance(299)
    assert (await tick(hub))["idle"] == 0
    clock.advance(1)
    assert (await tick(hub))["idle"] == 1  # warned again, 300s after the message
    clock.advance(119)
    assert (await tick(hub))["idle"] == 0
    clock.advance(1)
    assert (await tick(hub))["idle"] == 1  # and closed 120s after the warning
    await hub.settled()
    state = (await chatbot.events(cid))[-1]["data"]["hub"]
    assert (state["status"], state["reason"]) == ("ended", "idle")
    assert messages(await chatbot.actions(cid))[-1] == "chat-closed"
    assert [(c.reason, c.by) for c in provider.called("close")] == [("idle", "hub")]


async def test_an_agent_without_heartbeat_goes_offline_and_their_chats_wait_again(
    hub_factory, clock
):
    hub = await hub_factory(
        clock=clock,
        providers={"desk": {"type": "desk"}},  # requeue_on_offline: false, the default
        queues=[{"name": "support", "chain": ["desk"]}],
        **lifecycle(presence_timeout_seconds=90),
    )
    agents, workspace = hub.app[keys.AGENTS], hub.app[keys.WORKSPACE]
    ana = (await agents.create("ana@example.com", "Ana", "correct horse battery")).id
    ben = (await agents.create("ben@example.com", "Ben", "correct horse battery", max_chats=1)).id
    for agent in (ana, ben):
        await set_presence(hub.app, agent, "online")
    held = (await hub.chatbot.escalate("s1"))["conversationId"]
    await workspace.desks["desk"].accept(ana, held)
    clock.advance(60)
    await agents.seen(ben)  # Ben's dashboard is alive; Ana's went quiet
    clock.advance(45)
    assert (await tick(hub))["presence"] == 1
    assert (await agents.get(ana)).presence == "offline"
    assert (await agents.get(ben)).presence == "online"
    # Nobody would answer her chat: it waits in the queue again (offered to Ben).
    assert messages(await hub.chatbot.actions(held))[-2:] == ["agent-left", "queue-position"]
    assert [w.offered_to for w in await workspace.waiting("desk")] == [ben]
    assert (await tick(hub))["presence"] == 0  # already offline: nothing more happens


@pytest.mark.parametrize("requeue", [True, False])
async def test_an_agent_who_sets_offline_keeps_their_chats_unless_configured(hub_factory, requeue):
    hub = await hub_factory(
        providers={"desk": {"type": "desk", "requeue_on_offline": requeue}},
        queues=[{"name": "support", "chain": ["desk"]}],
        **lifecycle(),
    )
    agents, workspace = hub.app[keys.AGENTS], hub.app[keys.WORKSPACE]
    ana = (await agents.create("ana@example.com", "Ana", "correct horse battery")).id
    await set_presence(hub.app, ana, "online")
    held = (await hub.chatbot.escalate("s1"))["conversationId"]
    await workspace.desks["desk"].accept(ana, held)
    await set_presence(hub.app, ana, "offline")
    assert await workspace.holder(held) == (None if requeue else ana)


async def test_a_disabled_agent_gives_their_chats_back(hub_factory):
    hub = await hub_factory(
        providers={"desk": {"type": "desk"}},
        queues=[{"name": "support", "chain": ["desk"]}],
        **lifecycle(),
    )
    agents, workspace = hub.app[keys.AGENTS], hub.app[keys.WORKSPACE]
    ana = (await agents.create("ana@example.com", "Ana", "correct horse battery")).id
    await set_presence(hub.app, ana, "online")
    held = (await hub.chatbot.escalate("s1"))["conversationId"]
    await workspace.desks["desk"].accept(ana, held)
    await agents.set_disabled(ana, True)  # what the admin's Disable does, then:
    await presence_changed(hub.app, ana, "offline")
    assert await workspace.holder(held) is None
    assert messages(await hub.chatbot.actions(held))[-2:] == ["agent-left", "queue-position"]


async def test_deadlines_are_acted_on_once_by_two_hubs_at_once(
    aiohttp_client, make_settings, clock
):
    settings = make_settings(**WAIT_THEN_TICKET, **lifecycle())
    first = await start_hub(aiohttp_client, settings, clock)
    second = await start_hub(aiohttp_client, settings, clock)
    cid = (await first.chatbot.escalate(expect=201))["conversationId"]
    await first.provider("live").context.agent_typing(cid, True)
    clock.advance(61)
    results = await asyncio.gather(tick(first), tick(second), tick(first), tick(second))
    assert sum(r["routing"] for r in results) == 1
    assert sum(r["agent_typing"] for r in results) == 1
    await first.settled()
    await second.settled()
    actions = await first.chatbot.actions(cid)
    assert messages(actions).count("ticket-created") == 1
    assert [a for a, _ in actions].count("hideChatbotActivity") == 2  # typing ends; chat ends
    opened = len(first.provider("mail").called("open")) + len(
        second.provider("mail").called("open")
    )
    assert opened == 1


async def test_what_came_due_while_the_hub_was_down_is_done_once_at_start_up(
    aiohttp_client, make_settings, clock
):
    settings = make_settings(**WAIT_THEN_TICKET, **lifecycle())
    before = await start_hub(aiohttp_client, settings, clock)
    cid = (await before.chatbot.escalate(expect=201))["conversationId"]
    token = before.chatbot.tokens[cid]
    await before.client.close()  # the hub stops

    clock.advance(600)  # the wait limit passes while nobody runs
    after = await start_hub(aiohttp_client, settings, clock)
    after.chatbot.tokens[cid] = token
    events = await after.chatbot.wait_for(
        cid, lambda e: e["data"].get("message") == "ticket-created"
    )
    assert messages([(e["action"], e["data"]) for e in events]).count("ticket-created") == 1
    assert len(after.provider("mail").called("open")) == 1
    assert (await tick(after))["routing"] == 0


async def test_routing_interrupted_by_a_crash_resumes(hub_factory, clock):
    from functools import partial

    from hub.conversation.opening import NewConversation, create

    hub = await hub_factory(clock=clock, providers={"live": {"type": "scripted"}}, **lifecycle())
    new = NewConversation(
        bot_id=hub.chatbot.bot_id,
        session_id="s1",
        queue="default",
        language=None,
        user_info={},
        inquiry="",
        skills=[],
        data={},
        transcript=[],
        idempotency_key=None,
        request_hash="x",
        route_within=30,
    )
    # The conversation was written, then the process died before routing it.
    created = await hub.app[keys.JOURNAL].run(partial(create, new=new))
    clock.advance(31)
    assert (await tick(hub))["routing"] == 1
    assert len(hub.provider().called("open")) == 1
    hub.chatbot.tokens[created.conversation_id] = hub.app[keys.TOKENS].issue(
        created.conversation_id, hub.chatbot.bot_id, datetime(2027, 1, 1, tzinfo=UTC)
    )
    last = (await hub.chatbot.events(created.conversation_id))[-1]["data"]["hub"]
    assert (last["status"], last["provider"]) == ("queued", "live")


async def test_the_wait_estimate_is_the_average_of_real_waits(hub_factory, clock):
    hub = await hub_factory(
        clock=clock,
        providers={"desk": {"type": "desk"}},
        queues=[{"name": "support", "chain": ["desk"]}],
        **lifecycle(),
    )
    agents, workspace = hub.app[keys.AGENTS], hub.app[keys.WORKSPACE]
    ana = (await agents.create("ana@example.com", "Ana", "correct horse battery", max_chats=1)).id
    await set_presence(hub.app, ana, "online")
    desk = workspace.desks["desk"]
    for session, waited in (("s1", 30), ("s2", 90)):
        cid = (await hub.chatbot.escalate(session))["conversationId"]
        clock.advance(waited)
        await desk.accept(ana, cid)
        await desk.close_by(ana, cid, "done")
    assert await workspace.average_wait("support") == 60
    # The third is taken at once (a wait of 0): the average of 30, 90 and 0 is 40.
    await desk.accept(ana, (await hub.chatbot.escalate("s3"))["conversationId"])
    availability = await hub.chatbot.call("GET", "/v1/availability")
    assert (availability["open"], availability["estimatedWaitSeconds"]) == (True, 40)
    queued = await hub.chatbot.escalate("s4")
    assert (queued["position"], queued["estimatedWait"]) == (1, 40)


async def test_one_wait_estimate_everywhere_and_none_without_history(hub_factory, clock):
    """Availability, the escalation's answer and the queue-position message say the same;
    on a fresh hub (an idle agent online) that is: unknown."""
    hub = await hub_factory(
        clock=clock,
        providers={"desk": {"type": "desk", "assignment": "manual"}},
        queues=[{"name": "support", "chain": ["desk"]}],
        **lifecycle(),
    )
    agents, desk = hub.app[keys.AGENTS], hub.app[keys.WORKSPACE].desks["desk"]
    ana = (await agents.create("ana@example.com", "Ana", "correct horse battery")).id
    await set_presence(hub.app, ana, "online")

    async def three_answers(session: str) -> tuple[object, object, object]:
        available = (await hub.chatbot.call("GET", "/v1/availability"))["estimatedWaitSeconds"]
        answer = await hub.chatbot.escalate(session)
        told = [
            d["replacements"]["estimatedWait"]
            for a, d in await hub.chatbot.actions(answer["conversationId"])
            if a == "displaySystemMessage" and d["message"] == "queue-position"
        ]
        return available, answer["estimatedWait"], told[-1]

    assert await three_answers("s1") == (None, None, None)
    first = (await hub.chatbot.escalate("s1"))["conversationId"]  # the open one, again
    clock.advance(75)
    await agents.seen(ana)
    await desk.accept(ana, first)  # a real wait of 75 s
    assert await three_answers("s2") == (75, 75, 75)


async def test_queue_positions_are_refreshed_from_providers(hub_factory, clock):
    hub = await hub_factory(clock=clock, providers={"live": {"type": "scripted"}}, **lifecycle())
    cid = (await hub.chatbot.escalate())["conversationId"]
    provider = hub.provider()
    assert await hub.app[keys.LIFECYCLE].refresh_positions() == 1
    before = await hub.chatbot.events(cid)
    provider.config = provider.config.model_copy(update={"position": 3, "estimated_wait": 200})
    await hub.app[keys.LIFECYCLE].refresh_positions()
    assert await hub.chatbot.actions(cid, after=len(before)) == [
        (
            "displaySystemMessage",
            {
                "message": "queue-position",
                "translate": True,
                "replacements": {"position": 3, "estimatedWait": 200},
            },
        ),
        (await hub.chatbot.actions(cid))[-1],
    ]


async def test_retention_purges_old_conversations_in_batches(hub_factory, clock, caplog):
    hub = await hub_factory(
        clock=clock,
        providers={"live": {"type": "scripted"}},
        **lifecycle(retention_days=30, retention_batch=2),
    )
    chatbot = hub.chatbot
    old = []
    for session in ("s1", "s2", "s3"):
        cid = (
            await chatbot.escalate(
                session, transcript=[{"user": "guest", "message": "my card number is secret"}]
            )
        )["conversationId"]
        await chatbot.send(cid, "c1", "hello")
        await chatbot.call("POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={})
        old.append(cid)
    await hub.settled()
    clock.advance(20 * 86400)
    recent = (await chatbot.escalate("s4"))["conversationId"]
    await chatbot.call("POST", f"/v1/conversations/{recent}/close", conversation_id=recent, json={})
    still_open = (await chatbot.escalate("s5"))["conversationId"]
    clock.advance(11 * 86400)
    with caplog.at_level(logging.INFO, logger="hub.lifecycle.sweeps"):
        assert await hub.app[keys.LIFECYCLE].purge() == 3
    assert "purged 3 conversations ended more than 30 days ago" in caplog.text
    for cid in old:  # asked with the bot's key: the conversation tokens expired meanwhile
        await chatbot.call("GET", f"/v1/conversations/{cid}", expect=404)
    for cid in (recent, still_open):
        await chatbot.call("GET", f"/v1/conversations/{cid}")
    async with hub.app[keys.DATABASE].read() as conn:
        left = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(sa.table("messages", sa.column("conversation_id")))
            .where(sa.column("conversation_id").in_(old))
        )
    assert left == 0
    assert await hub.app[keys.LIFECYCLE].purge() == 0


async def test_the_real_scheduler_runs_the_sweeps(hub_factory):
    hub = await hub_factory(
        providers={"live": {"type": "scripted"}},
        lifecycle={"tick_seconds": 0.2, "agent_typing_seconds": 0.5},
    )
    cid = (await hub.chatbot.escalate())["conversationId"]
    context = hub.provider().context
    await context.agent_joined(cid, Agent("a1", "Ana"))
    await context.agent_typing(cid, True)
    events = await hub.chatbot.wait_for(
        cid, lambda e: e["action"] == "hideChatbotActivity", timeout=10
    )
    assert [e["action"] for e in events][-2:] == ["displayChatbotActivity", "hideChatbotActivity"]


async def test_a_tick_with_nothing_due_writes_nothing(hub_factory, clock):
    """An idle hub's clocks read, and open no write transaction: with several processes on
    one PostgreSQL, each would otherwise commit a few empty transactions every second."""
    hub = await hub_factory(clock=clock, **WAIT_THEN_TICKET, **lifecycle())
    cid = (await hub.chatbot.escalate(expect=201))["conversationId"]
    await hub.provider().context.agent_joined(cid, Agent("a1", "Ana"))
    await hub.settled()
    await tick(hub)
    before = value(await scrape(hub), "offload_hub_journal_commits_total")
    assert not any((await tick(hub)).values())
    assert value(await scrape(hub), "offload_hub_journal_commits_total") == before

    # Something due is acted on as before: the agent's typing ends on its own.
    await hub.provider().context.agent_typing(cid, True, agent=Agent("a1", "Ana"))
    clock.advance(300)
    assert (await tick(hub))["agent_typing"] == 1
    assert value(await scrape(hub), "offload_hub_journal_commits_total") > before
