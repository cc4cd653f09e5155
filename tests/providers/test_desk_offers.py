"""The desk's offers and limits as agents live them: only accepted chats count against an
agent's limit; an offer not accepted in time goes to the next agent; a chat an agent let
go (an expired offer, or sent back to the queue) is not offered to them again for a
while. Time is a controllable clock; a tick is what the scheduler runs every second."""

from __future__ import annotations

import asyncio

import pytest

from hub import keys
from hub.agents.presence import set_presence
from hub.clock import ManualClock
from providers.workspace import DeskError
from tests.support.chatbot import Hub, start_hub

MANUAL = {"tick_seconds": 3600, "position_refresh_seconds": 3600}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def desk_hub(hub_factory, clock, **desk) -> Hub:
    return await hub_factory(
        clock=clock,
        providers={"desk": {"type": "desk", **desk}},
        queues=[{"name": "support", "chain": ["desk"]}],
        lifecycle=MANUAL,
    )


async def agent(hub: Hub, name: str, **options) -> str:
    account = await hub.app[keys.AGENTS].create(
        f"{name.lower()}@example.com", name, "correct horse battery", **options
    )
    await set_presence(hub.app, account.id, "online")
    return account.id


async def offered(hub: Hub) -> dict[str, str | None]:
    return {w.conversation_id: w.offered_to for w in await hub.app[keys.WORKSPACE].waiting("desk")}


async def later(hub: Hub, clock: ManualClock, seconds: float, *alive: str) -> None:
    """``seconds`` pass (the agents' dashboards stay open), then the scheduler ticks."""
    clock.advance(seconds)
    for agent_id in alive:
        await hub.app[keys.AGENTS].seen(agent_id)
    await hub.app[keys.LIFECYCLE].tick()


async def test_pending_offers_do_not_count_against_the_limit(hub_factory, clock):
    hub = await desk_hub(hub_factory, clock)
    desk = hub.app[keys.WORKSPACE].desks["desk"]
    ana = await agent(hub, "Ana", max_chats=2)
    first = (await hub.chatbot.escalate("s1"))["conversationId"]
    second = (await hub.chatbot.escalate("s2"))["conversationId"]
    third = (await hub.chatbot.escalate("s3"))["conversationId"]
    assert await offered(hub) == {first: ana, second: ana, third: None}  # two of two

    # No chat yet, two offers pending: she may take the one nobody was offered.
    await desk.accept(ana, third)
    assert await hub.app[keys.WORKSPACE].holder(third) == ana
    # One chat now: only one offer fits; the other waits for someone with room.
    left = await offered(hub)
    assert sorted(left) == sorted([first, second])
    assert list(left.values()).count(ana) == 1

    await desk.accept(ana, next(cid for cid, to in left.items() if to == ana))
    with pytest.raises(DeskError) as refused:  # two accepted chats: her limit
        await desk.accept(ana, next(cid for cid, to in left.items() if to is None))
    assert refused.value.code == "at_capacity"


async def test_an_offer_not_accepted_in_time_goes_to_the_next_agent(hub_factory, clock):
    hub = await desk_hub(hub_factory, clock, offer_timeout_seconds=30, reoffer_after_seconds=120)
    ana = await agent(hub, "Ana")
    ben = await agent(hub, "Ben")
    ana_inbox = hub.app[keys.LIVE].listen([ana])
    cid = (await hub.chatbot.escalate("s1"))["conversationId"]
    assert await offered(hub) == {cid: ana}  # the least busy, by name

    await later(hub, clock, 29, ana, ben)
    assert await offered(hub) == {cid: ana}
    await later(hub, clock, 2, ana, ben)
    assert await offered(hub) == {cid: ben}
    told: list = []
    withdrawn = {"type": "offers.withdrawn", "conversationIds": [cid], "reason": "expired"}
    async with asyncio.timeout(5):  # Ana's dashboard is told (whatever else it was told)
        while withdrawn not in told:
            told += await ana_inbox.wait()

    # Ben does not take it either; Ana is still passed over: nobody is offered it now.
    await later(hub, clock, 31, ana, ben)
    assert await offered(hub) == {cid: None}
    # Once Ana's pass is over (120 s after her offer expired, at 151 s), it is hers again.
    await later(hub, clock, 88, ana, ben)  # 150 s
    assert await offered(hub) == {cid: None}
    await later(hub, clock, 2, ana, ben)  # 152 s
    assert await offered(hub) == {cid: ana}
    await hub.app[keys.WORKSPACE].desks["desk"].accept(ana, cid)
    assert await hub.app[keys.WORKSPACE].holder(cid) == ana


async def test_a_chat_sent_back_is_not_offered_to_the_same_agent_for_a_while(hub_factory, clock):
    hub = await desk_hub(hub_factory, clock, reoffer_after_seconds=300)
    desk = hub.app[keys.WORKSPACE].desks["desk"]
    ana = await agent(hub, "Ana")
    cid = (await hub.chatbot.escalate("s1"))["conversationId"]
    await desk.accept(ana, cid)
    await desk.transfer_by(ana, cid, to_queue="support")
    assert await offered(hub) == {cid: None}  # not back to Ana at once
    ben = await agent(hub, "Ben", max_chats=1)
    assert await offered(hub) == {cid: ben}  # to someone else, yes
    # Passed over for offers only: she still sees it waiting, and may take it back by hand
    # while nobody has it (here it is Ben's offer: his to take).
    with pytest.raises(DeskError) as refused:
        await desk.accept(ana, cid)
    assert refused.value.code == "taken"

    # With Ben away, it waits; Ana gets it again once her pass is over.
    await set_presence(hub.app, ben, "away")
    await later(hub, clock, 290, ana)
    assert await offered(hub) == {cid: None}
    await later(hub, clock, 15, ana)
    assert await offered(hub) == {cid: ana}


async def test_offers_expire_once_with_two_hubs(aiohttp_client, make_settings, clock):
    settings = make_settings(
        providers={"desk": {"type": "desk", "offer_timeout_seconds": 30}},
        queues=[{"name": "support", "chain": ["desk"]}],
        lifecycle=MANUAL,
    )
    first = await start_hub(aiohttp_client, settings, clock)
    second = await start_hub(aiohttp_client, settings, clock)
    ana = await agent(first, "Ana")
    await agent(first, "Ben")
    cid = (await first.chatbot.escalate("s1"))["conversationId"]
    assert await offered(first) == {cid: ana}
    clock.advance(31)
    results = await asyncio.gather(
        first.app[keys.LIFECYCLE].offers(), second.app[keys.LIFECYCLE].offers()
    )
    assert sum(results) == 1
