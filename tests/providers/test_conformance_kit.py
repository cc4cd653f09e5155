"""The conformance kit, run against the scripted adapter the core tests use; each of the
kit's checks shown to catch an adapter that breaks that part of the contract; and the
kit's RecordingContext and MemoryWorkspace shown to answer as the hub does."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import ConfigDict

from providers import (
    Agent,
    Availability,
    AvailabilityRequest,
    Capability,
    Closing,
    ConversationEnded,
    Handoff,
    Opened,
    OpenResult,
    OutboundMessage,
    Provider,
    ProviderConfig,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    UnknownConversation,
)
from providers.signing import SIGNATURE_HEADER, SignatureError, verify
from providers.testing import (
    AGENT_EVENTS,
    ANA,
    BEN,
    AgentEvent,
    AgentSide,
    MemoryWorkspace,
    ProviderConformance,
    RecordingContext,
    sample_handoff,
    serve_routes,
)
from providers.testing.platform_checks import PLATFORM_CHECKS
from providers.webhook import WebhookProvider, incoming, outgoing
from tests.providers.webhook_platform import FakePlatform, WebhookDouble
from tests.support.scripted import ScriptedProvider


class TestScriptedAdapter(ProviderConformance):
    provider_class = ScriptedProvider

    @pytest.fixture
    def provider_config(self):
        return {"mode": "open"}

    @pytest.fixture
    def delivered_ids(self, provider):
        async def ids():
            return [message.id for message in provider.delivered]

        return ids

    @pytest.fixture
    def agent_side(self, provider):
        """The scripted adapter's agent side is the test itself, through its context."""

        async def play(event: AgentEvent) -> None:
            context, cid, eid = provider.context, event.conversation.id, event.event_id
            if event.kind == "agent_joined":
                await context.agent_joined(cid, event.agent, event_id=eid)
            elif event.kind == "agent_left":
                await context.agent_left(cid, reason=event.reason, event_id=eid)
            elif event.kind == "agent_message":
                await context.agent_message(cid, html.escape(event.text), event_id=eid)
            elif event.kind == "agent_typing":
                await context.agent_typing(cid, event.typing, agent=event.agent)
            elif event.kind == "agent_profile":
                await context.agent_profile(cid, event.agent, event_id=eid)
            elif event.kind == "message_status":
                await context.message_status(cid, event.message_id, event.status, event_id=eid)
            elif event.kind == "queue_update":
                await context.queue_update(cid, event.position, event.estimated_wait)
            elif event.kind == "ticket_created":
                await context.ticket_created(cid, event.ticket_id, event_id=eid)
            else:
                await context.conversation_closed(cid, event.reason or "resolved", event_id=eid)

        return AgentSide(dict.fromkeys(AGENT_EVENTS, play))


def kit(adapter: type[Provider], **attributes: Any) -> ProviderConformance:
    """The kit as a plugin author's test class would be, without pytest around it."""
    values = {
        "provider_class": adapter,
        "check_timeout": 10.0,
        "stop_grace": 0.2,
        "remote": True,
    }
    return type("Kit", (ProviderConformance,), {**values, **attributes})()


# -- the adapter class and its config --------------------------------------------------------


class LeakyConfig(ProviderConfig):
    api_token: str = "plain"


class LeakyAdapter(ScriptedProvider):
    name = "leaky"
    config_model = LeakyConfig  # type: ignore[assignment]


class LaxConfig(ProviderConfig):
    model_config = ConfigDict(extra="allow")


class LaxAdapter(ScriptedProvider):
    name = "lax"
    config_model = LaxConfig  # type: ignore[assignment]


class Liar(ScriptedProvider):
    name = "liar"
    capabilities = frozenset({Capability.TRANSFER})


def test_the_kit_catches_a_secret_stored_as_plain_text():
    with pytest.raises(AssertionError, match="api_token"):
        kit(LeakyAdapter).test_secrets_are_secret_strings()


def test_the_kit_catches_a_config_that_takes_unknown_keys():
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        kit(LaxAdapter).test_config_refuses_unknown_keys({})


def test_the_kit_catches_an_undeclared_capability():
    with pytest.raises(AssertionError):
        kit(Liar).test_declared_capabilities_are_implemented()


# -- the calls ---------------------------------------------------------------------------------


class ForgetfulAdapter(ScriptedProvider):
    """Opens a new ticket every time it is asked: not idempotent."""

    name = "forgetful"
    counter = 0

    async def open(self, handoff):
        ForgetfulAdapter.counter += 1
        return Opened(ref=f"ref-{ForgetfulAdapter.counter}")


class Repeater(ScriptedProvider):
    """Passes every delivery on, repeats included."""

    name = "repeater"

    async def deliver(self, message):
        self.delivered.append(message)


class OneShotClose(ScriptedProvider):
    """Fails when the hub closes a conversation it closed before."""

    name = "oneshot"

    async def close(self, closing):
        if closing in self.called("close"):
            raise RuntimeError("this chat is closed already")
        await super().close(closing)


class BadPosition(ScriptedProvider):
    name = "badposition"

    async def queue_position(self, conversation):
        return "first", "soon"


async def test_the_kit_catches_an_open_that_is_not_idempotent():
    context = RecordingContext()
    checks = kit(ForgetfulAdapter)
    provider = checks.build({}, context)
    with pytest.raises(AssertionError):
        await checks.test_open_is_idempotent_on_the_conversation(provider, context)


async def test_the_kit_catches_a_delivery_made_twice():
    context = RecordingContext()
    checks = kit(Repeater)
    provider = checks.build({}, context)

    async def ids():
        return [message.id for message in provider.delivered]

    with pytest.raises(AssertionError):
        await checks.test_deliver_is_idempotent_on_the_message_id(provider, context, ids)


async def test_the_kit_catches_a_close_that_fails_the_second_time():
    context = RecordingContext()
    checks = kit(OneShotClose)
    with pytest.raises(RuntimeError, match="closed already"):
        await checks.test_close_is_accepted_twice(checks.build({}, context), context)


async def test_the_kit_catches_a_queue_position_that_is_not_one():
    context = RecordingContext()
    checks = kit(BadPosition)
    with pytest.raises(AssertionError):
        await checks.test_declared_capabilities_answer(checks.build({}, context), context)


# -- start and stop ------------------------------------------------------------------------


class Prober(ScriptedProvider):
    """Starts a health probe and forgets it at stop()."""

    name = "prober"

    async def start(self):
        self.probe = asyncio.create_task(asyncio.sleep(3600), name="forgotten-probe")

    async def forget(self):
        self.probe.cancel()
        await asyncio.gather(self.probe, return_exceptions=True)


class OwnSession(ScriptedProvider):
    """Opens an HTTP session of its own and never closes it."""

    name = "ownsession"

    async def start(self):
        self.session = aiohttp.ClientSession()


class Fireworks(ScriptedProvider):
    """Starts background work in open() that stop() does not wait for or cancel."""

    name = "fireworks"

    async def open(self, handoff):
        self.work = asyncio.create_task(asyncio.sleep(3600), name="open-followup")
        return await super().open(handoff)


class NeedsAConversation(ScriptedProvider):
    """stop() assumes open() ran."""

    name = "needsone"

    async def open(self, handoff):
        self.last = handoff.conversation_id
        return await super().open(handoff)

    async def stop(self):
        self.context.logger.info("stopping; the last chat was %s", self.last)


class ClosedSession(ScriptedProvider):
    """After stop(), every call fails with an error the hub does not know."""

    name = "closedsession"

    async def stop(self):
        self.stopped = True

    async def deliver(self, message):
        if getattr(self, "stopped", False):
            raise RuntimeError("Session is closed")
        await super().deliver(message)


async def test_the_kit_catches_a_task_left_running_after_stop():
    context = RecordingContext()
    checks = kit(Prober)
    with pytest.raises(AssertionError, match=r"task still running: forgotten-probe"):
        await checks.test_starts_checks_and_stops_cleanly({}, context)
    await ScriptedProvider.live[checks.instance_name].forget()  # type: ignore[attr-defined]


async def test_the_kit_catches_an_http_session_left_open():
    context = RecordingContext()
    checks = kit(OwnSession)
    with pytest.raises(AssertionError, match="ClientSession left open"):
        await checks.test_starts_checks_and_stops_cleanly({}, context)
    await ScriptedProvider.live[checks.instance_name].session.close()  # type: ignore[attr-defined]


async def test_the_kit_catches_work_of_a_conversation_left_running_after_stop():
    context = RecordingContext()
    checks = kit(Fireworks)
    with pytest.raises(AssertionError, match="open-followup"):
        await checks.test_stops_cleanly_after_a_conversation({}, context)
    leftover = ScriptedProvider.live[checks.instance_name].work  # type: ignore[attr-defined]
    leftover.cancel()
    await asyncio.gather(leftover, return_exceptions=True)


async def test_the_kit_catches_a_stop_that_needs_an_open_first():
    context = RecordingContext()
    with pytest.raises(AttributeError, match="last"):
        await kit(NeedsAConversation).test_starts_checks_and_stops_cleanly({}, context)


async def test_the_kit_catches_an_untyped_failure_after_stop():
    context = RecordingContext()
    checks = kit(ClosedSession)
    with pytest.raises(AssertionError, match=r"deliver\(\) after stop\(\) raised RuntimeError"):
        await checks.test_calls_after_stop_are_refused_or_harmless({}, context)


async def test_a_well_behaved_adapter_passes_the_stop_checks_without_pytest():
    """The same checks pass for the scripted adapter, so the failures above are the
    broken adapters' own."""
    checks = kit(ScriptedProvider)
    for check in (
        checks.test_starts_checks_and_stops_cleanly,
        checks.test_stops_cleanly_after_a_conversation,
        checks.test_calls_after_stop_are_refused_or_harmless,
    ):
        await check({}, RecordingContext())


# -- typed failures ----------------------------------------------------------------------------


class Unreachable(ScriptedProvider):
    """Calls a remote end that is down, and lets the network error through."""

    name = "unreachable"

    async def check(self):
        from providers import Health

        return Health(False, "connection refused")

    async def open(self, handoff):
        raise ConnectionRefusedError(111, "Connect call failed")


class Vague(Unreachable):
    """Raises the base ProviderError, which the hub cannot act on."""

    name = "vague"

    async def open(self, handoff):
        raise ProviderError("it did not work")


class UntypedDelivery(ScriptedProvider):
    name = "untypeddelivery"

    async def check(self):
        from providers import Health

        return Health(False, "down")

    async def open(self, handoff):
        from providers import ProviderTransientError

        raise ProviderTransientError("down")

    async def deliver(self, message):
        raise aiohttp.ClientConnectionError("down")


async def test_the_kit_catches_an_untyped_network_error():
    context = RecordingContext()
    with pytest.raises(ConnectionRefusedError):
        await kit(Unreachable).test_failures_are_typed({"mode": "open"}, context)


async def test_the_kit_catches_a_bare_provider_error():
    context = RecordingContext()
    with pytest.raises(ProviderError, match="it did not work"):
        await kit(Vague).test_failures_are_typed({"mode": "open"}, context)


async def test_the_kit_catches_an_untyped_delivery_failure():
    context = RecordingContext()
    with pytest.raises(AssertionError, match=r"deliver\(\) raised ClientConnectionError"):
        await kit(UntypedDelivery).test_failures_are_typed({"mode": "open"}, context)


async def test_the_kit_requires_an_unreachable_config_of_a_remote_adapter():
    with pytest.raises(AssertionError, match="unreachable_config"):
        await kit(ScriptedProvider, remote=True).test_failures_are_typed(None, RecordingContext())


# -- the agent side ----------------------------------------------------------------------------


class Relay(Provider):
    """A (much simplified) bridge: its platform posts agent-side events as JSON."""

    name = "relay"
    capabilities = frozenset()

    async def availability(self, request: AvailabilityRequest) -> Availability:
        return Availability(open=True)

    async def open(self, handoff: Handoff) -> OpenResult:
        return Opened(ref=f"chat-{handoff.conversation_id}")

    async def deliver(self, message: OutboundMessage) -> None:
        pass

    async def close(self, closing: Closing) -> None:
        pass

    def routes(self) -> Sequence[web.RouteDef]:
        return [web.post("/events", self.events)]

    def event_id(self, body: dict[str, Any]) -> str | None:
        return str(body["id"])

    async def events(self, request: web.Request) -> web.Response:
        body = await request.json()
        cid, eid, kind = body["conversation"], self.event_id(body), body["kind"]
        agent = Agent(body["agent"]["id"], body["agent"]["name"])
        if kind == "agent_joined":
            await self.context.agent_joined(cid, agent, event_id=eid)
        elif kind == "agent_message":
            await self.context.agent_message(cid, html.escape(body["text"]), event_id=eid)
        elif kind == "agent_typing":
            await self.context.agent_typing(cid, self.typing(body))
        elif kind == "conversation_closed":
            await self.context.conversation_closed(cid, event_id=eid)
        return web.json_response({"ok": True})

    def typing(self, body: dict[str, Any]) -> bool:
        return bool(body["typing"])


class NoEventIds(Relay):
    name = "noeventids"

    def event_id(self, body):
        return None


class FreshEventIds(Relay):
    """Makes up a new id for every delivery, so a retried one looks new."""

    name = "fresheventids"

    def event_id(self, body):
        return uuid.uuid4().hex


class OneIdPerConversation(Relay):
    """Uses the conversation as the event id: the second event is taken for a replay."""

    name = "oneid"

    def event_id(self, body):
        return f"{body['kind']}:{body['conversation']}"


class AlwaysTyping(Relay):
    name = "alwaystyping"

    def typing(self, body):
        return True


class Deaf(Relay):
    """Drops the platform's closing event."""

    name = "deaf"

    async def events(self, request):
        body = await request.json()
        if body["kind"] == "conversation_closed":
            return web.json_response({"ok": True})
        return await super().events(request)


RELAYED = ("agent_joined", "agent_message", "agent_typing", "conversation_closed")


async def run_agent_side_check(adapter: type[Provider], kinds: tuple[str, ...] = RELAYED) -> None:
    checks = kit(adapter, event_timeout=0.3)
    async with aiohttp.ClientSession() as http:
        context = RecordingContext(checks.instance_name, http=http)
        provider = checks.build({}, context)

        async def post(event: AgentEvent) -> None:
            body = {
                "id": event.event_id,
                "kind": event.kind,
                "conversation": event.conversation.id,
                "agent": {"id": event.agent.id, "name": event.agent.name},
                "text": event.text,
                "typing": event.typing,
            }
            async with http.post(context.url_for("/events"), json=body) as response:
                assert response.status == 200, await response.text()

        async with serve_routes(provider, context):
            await provider.start()
            try:
                side = AgentSide(dict.fromkeys(kinds, post))
                await checks.test_agent_side_events_reach_the_context_once(provider, context, side)
            finally:
                await provider.stop()


async def test_a_relay_that_keeps_the_contract_passes_the_agent_side_check():
    await run_agent_side_check(Relay)


async def test_the_kit_catches_events_passed_without_their_ids():
    with pytest.raises(AssertionError, match="agent_joined: the adapter passed no event_id"):
        await run_agent_side_check(NoEventIds)


async def test_the_kit_catches_a_replay_that_reaches_the_hub_again():
    with pytest.raises(AssertionError, match=r"3 calls reached the context, expected 2"):
        await run_agent_side_check(FreshEventIds)


async def test_the_kit_catches_two_events_taken_for_one():
    with pytest.raises(AssertionError, match="agent_joined: the event did not reach the context"):
        await run_agent_side_check(OneIdPerConversation)


async def test_the_kit_catches_an_event_that_carries_the_wrong_thing():
    with pytest.raises(AssertionError, match=r"agent_typing \(evt-agent_typing-2\)"):
        await run_agent_side_check(AlwaysTyping)


async def test_the_kit_catches_an_event_kind_that_never_arrives():
    with pytest.raises(AssertionError, match="conversation_closed: the event did not reach"):
        await run_agent_side_check(Deaf)


def test_an_agent_side_names_known_kinds_only():
    async def nothing(event: AgentEvent) -> None:
        pass

    with pytest.raises(ValueError, match="agent_said"):
        AgentSide({"agent_said": nothing})
    assert AgentSide({"agent_typing": nothing, "agent_joined": nothing}).kinds == (
        "agent_joined",
        "agent_typing",
    )


async def test_served_routes_are_where_url_for_says():
    async with asyncio.timeout(10), aiohttp.ClientSession() as http:
        context = RecordingContext("scripted-1", http=http)
        provider = ScriptedProvider("scripted-1", ScriptedProvider.config_model(), context)
        async with serve_routes(provider, context) as base:
            assert base.startswith("http://127.0.0.1:")
            async with http.get(context.url_for("/ping")) as response:
                assert await response.json() == {"instance": "scripted-1"}


# -- the recording context ---------------------------------------------------------------------


async def test_the_recording_context_behaves_like_the_hubs():
    async with asyncio.timeout(10):
        context = RecordingContext()
        handoff = sample_handoff()
        cid = handoff.conversation_id
        with pytest.raises(UnknownConversation):
            await context.agent_message(cid, "hi")
        context.own(cid)
        await context.agent_joined(cid, Agent("a1", "Ana"), event_id="e1")
        await context.agent_joined(cid, Agent("a1", "Ana"), event_id="e1")
        assert len(context.named("agent_joined")) == 1
        assert context.named("agent_joined")[0].event_id == "e1"
        first = await context.agent_message(cid, "hello", event_id="e2")
        assert await context.agent_message(cid, "hello", event_id="e2") == first
        assert await context.agent_message(cid, "again") != first
        await context.conversation_closed(cid, event_id="e3")
        await context.conversation_closed(cid, event_id="e4")  # over already: no change
        assert len(context.named("conversation_closed", cid)) == 1
        with pytest.raises(ConversationEnded):
            await context.agent_message(cid, "too late")
        await context.message_status(cid, "m1", "read")  # ticks still arrive


async def test_a_ticket_takes_agent_replies_but_nothing_else():
    async with asyncio.timeout(10):
        context = RecordingContext()
        context.mark_ticket("c_ticket")
        await context.agent_message("c_ticket", "<p>We will ship it</p>", event_id="r1")
        assert len(context.named("agent_message", "c_ticket")) == 1
        with pytest.raises(ConversationEnded):
            await context.agent_typing("c_ticket", True)


async def test_the_context_keeps_files_for_the_adapter():
    async with asyncio.timeout(10):
        context = RecordingContext()
        context.own("c_files")
        info = await context.store_media("c_files", "label.pdf", "application/pdf", b"%PDF")
        assert await context.read_media(info.id) == (info, b"%PDF")
        assert context.named("store_media")[0].arguments == {
            "media_id": info.id,
            "name": "label.pdf",
        }
        with pytest.raises(UnknownConversation):
            await context.read_media("f_nothing")


def test_a_context_without_a_workspace_says_so():
    with pytest.raises(NotImplementedError, match="workspace"):
        _ = RecordingContext().workspace


# -- the memory workspace ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def desk_world() -> AsyncIterator[tuple[MemoryWorkspace, RecordingContext, Clock]]:
    clock = Clock()
    workspace = MemoryWorkspace(clock=clock)
    workspace.add_agent(ANA.id, ANA.name, icon_url=ANA.icon_url, max_chats=2, languages=["en"])
    workspace.add_agent(BEN.id, BEN.name, presence="away", skills=["billing"])
    context = RecordingContext("desk", workspace=workspace)
    for cid in ("c_one", "c_two", "c_three"):
        context.own(cid)
    yield workspace, context, clock


async def test_the_workspace_keeps_a_waiting_list_in_order(desk_world):
    workspace, _, clock = desk_world
    async with asyncio.timeout(10):
        for cid in ("c_one", "c_two"):
            await workspace.enqueue("desk", cid, queue="support", language="en", skills=())
            clock.tick(5)
        await workspace.enqueue("desk", "c_one", queue="other", language="en", skills=())
        waiting = await workspace.waiting("desk")
        assert [(w.conversation_id, w.queue) for w in waiting] == [
            ("c_one", "support"),
            ("c_two", "support"),
        ]
        assert await workspace.waiting("elsewhere") == []
        assert await workspace.offer("c_two", ANA.id) is True
        assert await workspace.offer("c_none", ANA.id) is False
        assert [a.offered for a in await workspace.agents()] == [1, 0]  # Ana, Ben
        assert await workspace.withdraw_offers(ANA.id) == ["c_two"]
        assert (await workspace.agent(ANA.id)).offered == 0


async def test_assigning_is_atomic_and_shows_the_agent_joining(desk_world):
    workspace, context, clock = desk_world
    async with asyncio.timeout(10):
        await workspace.enqueue("desk", "c_one", queue="support", language="en", skills=())
        await workspace.offer("c_one", BEN.id)
        assert await workspace.assign("desk", "c_one", ANA, offered_only=True) is False
        clock.tick(30)
        results = await asyncio.gather(
            workspace.assign("desk", "c_one", BEN, offered_only=False),
            workspace.assign("desk", "c_one", ANA, offered_only=False),
        )
        assert results == [True, False]  # one of them got it
        assert await workspace.assign("desk", "c_one", BEN, offered_only=True) is True  # again
        assert [c.arguments["agent"] for c in context.named("agent_joined")] == [BEN]
        assert await workspace.holder("c_one") == BEN.id
        assert await workspace.assigned("desk", BEN.id) == ["c_one"]
        assert (await workspace.agent(BEN.id)).active == 1
        assert await workspace.waiting("desk") == []
        assert await workspace.average_wait("support") == 30.0
        assert await workspace.average_wait("billing") is None


async def test_hand_over_requeue_and_drop(desk_world):
    workspace, context, clock = desk_world
    async with asyncio.timeout(10):
        await workspace.enqueue("desk", "c_one", queue="support", language="en", skills=())
        clock.tick(10)
        await workspace.enqueue("desk", "c_two", queue="support", language="en", skills=())
        await workspace.assign("desk", "c_one", ANA, offered_only=False)
        await workspace.hand_over("desk", "c_one", BEN)
        assert [c.arguments["agent"].id for c in context.named("agent_joined")] == [ANA.id, BEN.id]
        assert await workspace.agent_in_chat(BEN.id, "c_one") == (
            await workspace.agent(BEN.id),
            True,
        )
        assert await workspace.agent_in_chat(ANA.id, "c_one") == (
            await workspace.agent(ANA.id),
            False,
        )
        assert await workspace.agent_in_chat("a_nobody", "c_one") == (None, False)
        await workspace.requeue("desk", "c_one", queue=None, skills=("billing",))
        assert len(context.named("agent_left", "c_one")) == 1
        waiting = await workspace.waiting("desk")
        assert [w.conversation_id for w in waiting] == ["c_one", "c_two"]  # back at the front
        assert waiting[0].skills == ("billing",)
        assert await workspace.holder("c_one") is None
        await workspace.assign("desk", "c_one", ANA, offered_only=False)
        await context.conversation_closed("c_one")
        await workspace.drop("c_one")
        assert await workspace.holder("c_one") is None
        assert await workspace.holder("c_one", ended_ok=True) == ANA.id
        assert (await workspace.agent_in_chat(ANA.id, "c_one"))[1] is False
        assert await workspace.assigned("desk", ANA.id) == []
        with pytest.raises(ConversationEnded):
            await workspace.assign("desk", "c_one", BEN, offered_only=False)


async def test_the_workspace_refuses_conversations_that_are_not_the_instances(desk_world):
    workspace, context, _ = desk_world
    async with asyncio.timeout(10):
        await workspace.enqueue("desk", "c_one", queue="support", language="en", skills=())
        with pytest.raises(UnknownConversation):
            await workspace.assign("other-desk", "c_one", ANA, offered_only=False)
        with pytest.raises(UnknownConversation):
            await workspace.hand_over("desk", "c_never", ANA)
        await workspace.enqueue("desk", "c_foreign", queue="support", language="en", skills=())
        with pytest.raises(UnknownConversation):  # the context does not own it
            await workspace.assign("desk", "c_foreign", ANA, offered_only=False)
        assert context.named("agent_joined") == []


async def test_agents_presence_and_notices(desk_world):
    workspace, _, _ = desk_world
    async with asyncio.timeout(10):
        assert [(a.name, a.presence) for a in await workspace.agents()] == [
            ("Ana", "online"),
            ("Ben", "away"),
        ]
        ana = await workspace.agent(ANA.id)
        assert ana.can_take(language="en-GB", skills=())
        assert not ana.can_take(language="fr", skills=())
        workspace.set_presence(BEN.id, "online")
        assert (await workspace.agent(BEN.id)).can_take(language="fr", skills=("billing",))
        workspace.remove_agent(BEN.id)
        assert await workspace.agent(BEN.id) is None
        workspace.notify("desk:desk", {"type": "inbox.changed"})
        workspace.notify(ANA.id, {"type": "offer", "conversationId": "c_one"})
        assert workspace.notices_for(ANA.id) == [{"type": "offer", "conversationId": "c_one"}]


# -- the platform-side checks, each shown to catch a careless adapter -------------------------
#
# Each broken adapter is the webhook bridge with one careless change, run against the same
# fake platform (a real local HTTP server) through the kit's platform double.


class Careless(WebhookProvider):
    """The webhook bridge with an inbound route written carelessly (flags say how)."""

    name = "careless"
    verify_signatures = True
    pass_event_ids = True
    unknown_is_ok = False
    text_as_html = False

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/events", self._events)]

    async def _events(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.verify_signatures:
            try:
                verify(self.config.secrets, body, request.headers.get(SIGNATURE_HEADER))
            except SignatureError:
                return web.json_response({"error": {"code": "signature"}}, status=401)
        event = incoming.parse(json.loads(body), None)
        data = event.data
        try:
            if isinstance(data, incoming.AgentMessage):
                markup = data.text if self.text_as_html and data.text else data.markup
                await self.context.agent_message(
                    event.conversation_id,
                    markup or "",
                    event_id=event.id if self.pass_event_ids else None,
                )
            else:
                await event.apply(self.context)
        except UnknownConversation:
            if self.unknown_is_ok:
                return web.json_response({"ok": True})
            return web.json_response({"error": {"code": "unknown"}}, status=404)
        return web.json_response({"ok": True, "id": event.id})


class Unsigned(Careless):
    verify_signatures = False


class NoEventIdsInbound(Careless):
    pass_event_ids = False


class UnknownIsOk(Careless):
    unknown_is_ok = True


class RawText(Careless):
    text_as_html = True


class Swallower(WebhookProvider):
    """Swallows a failed delivery: the user would see SINGLE_TICK for nothing."""

    async def deliver(self, message):
        with contextlib.suppress(ProviderError):
            await super().deliver(message)


class RefusesWhenDown(WebhookProvider):
    async def deliver(self, message):
        try:
            await super().deliver(message)
        except ProviderError as exc:
            raise ProviderRefused(str(exc)) from None


class AlwaysOpen(WebhookProvider):
    """Says it is open whatever the platform says, and refuses when nobody is there."""

    async def availability(self, request):
        return Availability(open=True)

    async def open(self, handoff):
        try:
            return await super().open(handoff)
        except ProviderUnavailable as exc:
            raise ProviderRefused(str(exc)) from None


class NoTranscript(WebhookProvider):
    async def open(self, handoff):
        return await super().open(dataclasses.replace(handoff, transcript=()))


class TypingOnOnly(WebhookProvider):
    async def user_typing(self, conversation, typing):
        if typing:
            await super().user_typing(conversation, typing)


class StrictClose(WebhookProvider):
    async def close(self, closing):
        self._raise_for(await self.client.post(outgoing.closed(self.instance, closing)))


class Blocking(WebhookProvider):
    async def deliver(self, message):
        time.sleep(0.3)  # noqa: ASYNC251 (the careless part: it blocks the loop)
        await super().deliver(message)


async def run_platform_check(adapter: type[Provider], check: str) -> None:
    platform = await FakePlatform().start()
    try:
        async with aiohttp.ClientSession() as http:
            context = RecordingContext("under-test", http=http)
            conformance = kit(adapter)
            config = platform.config(timeout_seconds=2, status_url=platform.status_url)
            provider = conformance.build(config, context)
            async with serve_routes(provider, context):
                await provider.start()
                try:
                    double = WebhookDouble(platform, context.url_for("/events"), http)
                    async with asyncio.timeout(20):
                        await getattr(conformance, check)(provider, context, double)
                finally:
                    await provider.stop()
    finally:
        await platform.stop()


SIGNED = "test_inbound_events_need_a_valid_fresh_signature_and_replays_change_nothing"


@pytest.mark.parametrize(
    ("adapter", "check", "says"),
    [
        (Unsigned, SIGNED, "invalid signature to be refused"),
        (NoEventIdsInbound, SIGNED, "replayed event"),
        (UnknownIsOk, "test_an_event_for_an_unknown_conversation_is_a_404", "404"),
        (Swallower, "test_a_delivery_to_a_platform_that_is_down_fails_typed", "SINGLE_TICK"),
        (RefusesWhenDown, "test_a_delivery_to_a_platform_that_is_down_fails_typed", "Refused"),
        (AlwaysOpen, "test_no_agents_is_unavailable_not_a_refusal", "0 agents online"),
        (NoTranscript, "test_the_transcript_and_typing_reach_the_platform", "transcript line"),
        (TypingOnOnly, "test_the_transcript_and_typing_reach_the_platform", "typing on, then off"),
        (
            RawText,
            "test_plain_agent_text_with_markup_characters_reaches_the_user_as_text",
            "as typed",
        ),
        (StrictClose, "test_closing_a_chat_the_platform_dropped_is_harmless", "already dropped"),
        (Blocking, "test_no_call_blocks_the_event_loop", "hold the event loop"),
    ],
)
async def test_the_kit_catches_a_careless_adapter_on_the_platform_side(adapter, check, says):
    with pytest.raises(AssertionError, match=says):
        await run_platform_check(adapter, check)


async def test_a_careful_adapter_passes_the_platform_side_checks_without_pytest():
    assert len(PLATFORM_CHECKS) == 8
    for check in PLATFORM_CHECKS:
        await run_platform_check(Careless, check)


async def test_without_agents_a_check_says_what_it_needs():
    platform = await FakePlatform().start()
    try:
        async with aiohttp.ClientSession() as http:
            context = RecordingContext("under-test", http=http)
            conformance = kit(WebhookProvider)
            provider = conformance.build(platform.config(timeout_seconds=2), context)
            await WebhookDouble(platform, "", http).set_agents_online(0)
            with pytest.raises(AssertionError, match="give the test platform agents online"):
                await conformance.opened(provider, context)
    finally:
        await platform.stop()
