"""Nobody waits forever. Every way a conversation can come to wait in a queue has a way
out: nobody who could take it online for ``no_agents_seconds``, or its step's wait limit
(``wait_limit_seconds`` when the step sets none), moves it down its chain; with no step
left it goes back to the bot with ``no-agents``. The user is told at each step. Time is
a controllable clock; each tick is what the scheduler runs every second."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub import keys
from hub.agents.presence import set_presence
from hub.clock import ManualClock
from tests.support.chatbot import Hub

MANUAL = {"tick_seconds": 3600, "position_refresh_seconds": 3600}
DESK_ONLY = {
    "providers": {"desk": {"type": "desk"}},
    "queues": [{"name": "support", "chain": ["desk"]}],
}


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))


async def tick(hub: Hub) -> dict[str, int]:
    return await hub.app[keys.LIFECYCLE].tick()


async def wait(
    hub: Hub, clock: ManualClock, seconds: float, step: float = 5, alive: tuple[str, ...] = ()
) -> None:
    """Let ``seconds`` pass, with the scheduler's ticks on the way; the ``alive`` agents'
    dashboards stay open (they heartbeat)."""
    passed = 0.0
    while passed < seconds:
        moved = min(step, seconds - passed)
        clock.advance(moved)
        passed += moved
        for agent_id in alive:
            await hub.app[keys.AGENTS].seen(agent_id)
        await tick(hub)
    await hub.settled()


def told(actions: list[tuple[str, dict]]) -> list[str]:
    return [data["message"] for action, data in actions if action == "displaySystemMessage"]


async def state(hub: Hub, cid: str) -> dict:
    return (await hub.chatbot.events(cid))[-1]["data"]["hub"]


async def back_with_the_bot(hub: Hub, cid: str) -> None:
    """The conversation ended with no-agents, and the chatbot got the bot back."""
    last = await state(hub, cid)
    assert (last["status"], last["reason"]) == ("ended", "no-agents")
    actions = await hub.chatbot.actions(cid)
    assert [action for action, _ in actions][-6:] == [
        "displaySystemMessage",  # no-agents
        "hideChatbotActivity",
        "setChatbotName",
        "setChatbotIcon",
        "enableInput",
        "setExternalInfo",
    ]
    assert told(actions)[-1] == "no-agents"
    assert actions[-4] == ("setChatbotName", {"source": "default"})


async def desk_hub(hub_factory, clock, **config) -> Hub:
    return await hub_factory(clock=clock, **{**DESK_ONLY, **config}, lifecycle={**MANUAL})


async def agent(hub: Hub, name: str, **options) -> str:
    account = await hub.app[keys.AGENTS].create(
        f"{name.lower()}@example.com", name, "correct horse battery", **options
    )
    await set_presence(hub.app, account.id, "online")
    return account.id


async def test_the_only_agent_going_away_gives_the_chat_back_to_the_bot(hub_factory, clock):
    """The default config (no wait limit anywhere): the case that used to wait forever."""
    hub = await desk_hub(hub_factory, clock)
    desk = hub.app[keys.WORKSPACE].desks["desk"]
    ana = await agent(hub, "Ana", max_chats=1)
    busy = (await hub.chatbot.escalate("s1"))["conversationId"]
    await desk.accept(ana, busy)
    waiting = (await hub.chatbot.escalate("s2"))["conversationId"]
    assert (await state(hub, waiting))["position"] == 1

    await set_presence(hub.app, ana, "away")
    await wait(hub, clock, 55)
    assert (await state(hub, waiting))["status"] == "queued"  # not yet: 60 s by default
    await wait(hub, clock, 10)
    await back_with_the_bot(hub, waiting)
    assert told(await hub.chatbot.actions(waiting)) == ["queue-position", "no-agents"]
    assert await hub.app[keys.WORKSPACE].waiting("desk") == []
    assert await hub.app[keys.WORKSPACE].holder(busy) == ana  # her own chat stays hers


async def test_an_agent_back_in_time_keeps_the_conversation_waiting(hub_factory, clock):
    hub = await desk_hub(hub_factory, clock, providers={"desk": {"type": "desk"}})
    ana = await agent(hub, "Ana")
    cid = (await hub.chatbot.escalate("s1"))["conversationId"]
    await set_presence(hub.app, ana, "away")
    await wait(hub, clock, 40)
    await set_presence(hub.app, ana, "online")  # back: the clock stops
    await wait(hub, clock, 40)
    await set_presence(hub.app, ana, "away")  # away again: a new clock, from zero
    await wait(hub, clock, 40)
    assert (await state(hub, cid))["status"] == "queued"
    await wait(hub, clock, 30)
    await back_with_the_bot(hub, cid)


async def test_nobody_with_the_language_counts_as_nobody(hub_factory, clock):
    hub = await desk_hub(hub_factory, clock)
    await agent(hub, "Ana", languages=["es"])
    ben = await agent(hub, "Ben", languages=["en"])
    cid = (await hub.chatbot.escalate("s1", user={"name": "Zoe", "language": "en-GB"}))[
        "conversationId"
    ]
    await set_presence(hub.app, ben, "offline")  # Ana is online, but speaks only Spanish
    await wait(hub, clock, 65)
    await back_with_the_bot(hub, cid)


async def test_with_nobody_online_it_moves_down_the_chain_to_a_ticket(hub_factory, clock):
    hub = await desk_hub(
        hub_factory,
        clock,
        providers={"desk": {"type": "desk"}, "mail": {"type": "scripted", "mode": "ticket"}},
        queues=[{"name": "support", "chain": ["desk", "mail"]}],
    )
    ana = await agent(hub, "Ana")
    cid = (await hub.chatbot.escalate("s1"))["conversationId"]
    await set_presence(hub.app, ana, "offline")
    await wait(hub, clock, 65)
    last = await state(hub, cid)
    assert (last["status"], last["provider"]) == ("ticket", "mail")
    assert told(await hub.chatbot.actions(cid)) == [
        "queue-position",
        "no-agents",
        "ticket-created",
    ]


async def test_moving_to_another_live_step_tells_the_user_why(hub_factory, clock):
    hub = await desk_hub(
        hub_factory,
        clock,
        providers={"desk": {"type": "desk"}, "partner": {"type": "scripted"}},
        queues=[{"name": "support", "chain": ["desk", "partner"]}],
    )
    ana = await agent(hub, "Ana")
    cid = (await hub.chatbot.escalate("s1"))["conversationId"]
    await set_presence(hub.app, ana, "offline")
    await wait(hub, clock, 65)
    last = await state(hub, cid)
    assert (last["status"], last["provider"]) == ("queued", "partner")
    assert told(await hub.chatbot.actions(cid)) == [
        "queue-position",
        "no-agents",
        "queue-position",
    ]
    # The partner platform, too, can run out of people: the chain ends, back to the bot.
    partner = hub.provider("partner")
    partner.config = partner.config.model_copy(update={"mode": "no-agents"})
    await wait(hub, clock, 65)
    await back_with_the_bot(hub, cid)
    assert [(c.reason, c.by) for c in partner.called("close")] == [("no-agents", "hub")]


async def test_a_provider_that_goes_down_is_nobody(hub_factory, clock):
    hub = await hub_factory(
        clock=clock,
        providers={"partner": {"type": "scripted"}},
        queues=[{"name": "support", "chain": ["partner"]}],
        lifecycle=MANUAL,
    )
    cid = (await hub.chatbot.escalate("s1"))["conversationId"]
    hub.app[keys.PROVIDERS].get("partner").report(False, "the platform is down")
    await wait(hub, clock, 65)
    await back_with_the_bot(hub, cid)


async def test_the_default_wait_limit_when_a_step_sets_none(hub_factory, clock):
    """Agents online but nobody takes it (manual assignment): the default wait limit."""
    hub = await desk_hub(
        hub_factory, clock, providers={"desk": {"type": "desk", "assignment": "manual"}}
    )
    ana = await agent(hub, "Ana")
    cid = (await hub.chatbot.escalate("s1"))["conversationId"]
    await wait(hub, clock, 595, step=35, alive=(ana,))
    assert (await state(hub, cid))["status"] == "queued"
    await wait(hub, clock, 10, alive=(ana,))
    await back_with_the_bot(hub, cid)


async def test_a_conversation_sent_back_to_the_queue_gets_its_wait_limit_again(hub_factory, clock):
    hub = await desk_hub(
        hub_factory, clock, providers={"desk": {"type": "desk", "assignment": "manual"}}
    )
    desk = hub.app[keys.WORKSPACE].desks["desk"]
    ana = await agent(hub, "Ana")
    cid = (await hub.chatbot.escalate("s1"))["conversationId"]
    await wait(hub, clock, 10, alive=(ana,))
    await desk.accept(ana, cid)
    await wait(hub, clock, 400, step=40, alive=(ana,))  # chatting is not waiting
    await desk.transfer_by(ana, cid, to_queue="support")
    await tick(hub)  # the scheduler's next tick, within a second
    await wait(hub, clock, 595, step=35, alive=(ana,))
    assert (await state(hub, cid))["status"] == "queued"
    await wait(hub, clock, 10, alive=(ana,))
    await back_with_the_bot(hub, cid)


async def test_nothing_stays_queued_forever(hub_factory, clock):
    """Every way in at once: a fresh escalation at the desk, one put back in the queue by
    its agent, one whose agent vanished (requeued on offline), one at another platform;
    with agents online the whole time or not. After the longest clock, none waits."""
    hub = await hub_factory(
        clock=clock,
        providers={
            "desk": {"type": "desk", "assignment": "manual", "requeue_on_offline": True},
            "partner": {"type": "scripted"},
        },
        queues=[
            {"name": "support", "chain": ["desk"]},
            {"name": "partner", "chain": ["partner"]},
        ],
        lifecycle={**MANUAL, "presence_timeout_seconds": 90},
    )
    desk = hub.app[keys.WORKSPACE].desks["desk"]
    agents = hub.app[keys.AGENTS]
    ana = await agent(hub, "Ana")
    ben = await agent(hub, "Ben")
    fresh = (await hub.chatbot.escalate("fresh"))["conversationId"]
    sent_back = (await hub.chatbot.escalate("sent-back"))["conversationId"]
    await desk.accept(ana, sent_back)
    await desk.transfer_by(ana, sent_back, to_queue="support")
    vanished = (await hub.chatbot.escalate("vanished"))["conversationId"]
    await desk.accept(ben, vanished)
    elsewhere = (await hub.chatbot.escalate("elsewhere", queue="partner"))["conversationId"]
    everyone = [fresh, sent_back, vanished, elsewhere]

    # Ana keeps her dashboard open (heartbeats); Ben's vanishes: after the presence timeout
    # his chat is requeued, and waits its wait limit from then: 90 + 600 s, and the ticks.
    await wait(hub, clock, 900, step=30, alive=(ana,))
    assert (await agents.require(ben)).presence == "offline"
    for cid in everyone:
        await back_with_the_bot(hub, cid)
    assert await hub.app[keys.WORKSPACE].waiting("desk") == []
