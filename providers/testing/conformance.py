"""The contract checks, as a pytest base class (needs pytest and pytest-asyncio).

Fixtures a subclass defines:

- ``provider_config`` (required): the adapter's config, as the ``[providers.X]`` table
  would give it, pointing at whatever test servers the adapter needs;
- ``delivered_ids`` (optional): an async callable returning the message ids the agent
  side has received so far; with it, delivery is checked to happen exactly once per id;
- ``unreachable_config``: a config whose remote end does not answer; with it, the
  adapter's failures are checked to be typed ``ProviderError`` s. Required when the class
  sets ``remote = True`` (the adapter calls out over the network);
- ``agent_side`` (optional): an :class:`AgentSide` through which the test makes the
  adapter report agent-side events; with it, each kind is checked to reach the context
  once (without it, that check is skipped, and says so);
- ``workspace`` (optional): the ``context.workspace`` of a desk-like adapter, usually a
  :class:`MemoryWorkspace` with agents in it;
- ``platform_double`` (optional): a :class:`PlatformDouble` over the test's fake platform;
  with it, the platform-side checks run (:mod:`providers.testing.platform_checks`):
  signatures, replays, unknown conversations, a platform that is down or has nobody,
  the transcript and typing reaching it, markup in plain text, closing a dropped chat,
  and no call blocking the event loop.

The kit serves the adapter's ``routes()`` on 127.0.0.1 under ``/providers/{instance}/``
while the ``provider`` fixture runs, and ``context.url_for(path)`` gives their real URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, ClassVar, TypeVar, cast

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr, ValidationError

from providers.base import Provider, ProviderConfig
from providers.capabilities import (
    Capability,
    SupportsQueuePosition,
    SupportsReadReceipts,
    SupportsTransfer,
    SupportsUserTyping,
    missing_methods,
)
from providers.errors import (
    ConversationEnded,
    ProviderAuthError,
    ProviderRefused,
    ProviderTransientError,
    ProviderUnavailable,
    UnknownConversation,
)
from providers.testing.agent_side import (
    STATES,
    TERMINAL,
    AgentEvent,
    AgentSide,
    events_for,
    mismatch,
)
from providers.testing.context import ContextCall, RecordingContext
from providers.testing.leftovers import Leftovers
from providers.testing.platform import PlatformDouble
from providers.testing.platform_checks import PlatformChecks
from providers.testing.routes import serve_routes
from providers.testing.samples import sample_handoff, sample_message
from providers.values import (
    Availability,
    AvailabilityRequest,
    Closing,
    ConversationRef,
    Health,
    Opened,
    OutboundMessage,
    TicketCreated,
)
from providers.workspace import Workspace

_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey")

# The errors the hub acts on (see providers.errors): what a failing call may raise. A bare
# ProviderError, or anything else, is handled as a crash of the call (logged with a trace).
TYPED: tuple[type[Exception], ...] = (
    ProviderRefused,
    ProviderUnavailable,
    ProviderTransientError,
    ProviderAuthError,
    UnknownConversation,
    ConversationEnded,
)
# What ``open`` may raise: the chain moves on (an auth error also marks the instance).
OPEN_ERRORS: tuple[type[Exception], ...] = (
    ProviderRefused,
    ProviderUnavailable,
    ProviderTransientError,
    ProviderAuthError,
)

T = TypeVar("T")
Check = TypeVar("Check", bound=Callable[..., Coroutine[Any, Any, None]])


def bounded(check: Check) -> Check:
    """The check fails, rather than hangs, after the class's ``check_timeout`` seconds."""

    @functools.wraps(check)
    async def run(self: ProviderConformance, *args: Any, **kwargs: Any) -> None:
        async with asyncio.timeout(self.check_timeout):
            await check(self, *args, **kwargs)

    # The wrapper keeps the check's name and signature (functools.wraps) for pytest.
    return cast(Check, run)


async def typed(call: Awaitable[T], what: str) -> T | None:
    """The call's result, or None when it failed with one of the errors the hub acts on;
    any other exception fails the check, naming the call."""
    try:
        return await call
    except TYPED:
        return None
    except Exception as exc:
        names = ", ".join(error.__name__ for error in TYPED)
        raise AssertionError(
            f"{what} raised {type(exc).__name__}: {exc} (a failing call must raise one of {names})"
        ) from exc


class ProviderConformance(PlatformChecks):
    provider_class: ClassVar[type[Provider]]
    instance_name: ClassVar[str] = "under-test"
    remote: ClassVar[bool] = False
    check_timeout: ClassVar[float] = 30.0  # seconds one check may take
    event_timeout: ClassVar[float] = 5.0  # seconds an agent-side event may take to arrive
    stop_grace: ClassVar[float] = 1.0  # seconds tasks get to finish after stop()

    # -- fixtures ------------------------------------------------------------------------------

    @pytest.fixture
    def provider_config(self) -> dict[str, Any]:
        raise NotImplementedError("define a provider_config fixture on your test class")

    @pytest.fixture
    def delivered_ids(self) -> Callable[[], Awaitable[list[str]]] | None:
        return None

    @pytest.fixture
    def unreachable_config(self) -> dict[str, Any] | None:
        return None

    @pytest.fixture
    def agent_side(self) -> AgentSide | None:
        return None

    @pytest.fixture
    def workspace(self) -> Workspace | None:
        return None

    @pytest.fixture
    def platform_double(self) -> PlatformDouble | None:
        return None

    @pytest_asyncio.fixture
    async def http(self) -> AsyncIterator[aiohttp.ClientSession]:
        async with aiohttp.ClientSession() as session:
            yield session

    @pytest.fixture
    def context(self, http: aiohttp.ClientSession, workspace: Workspace | None) -> RecordingContext:
        return RecordingContext(self.instance_name, http=http, workspace=workspace)

    def build(self, config: dict[str, Any], context: RecordingContext) -> Provider:
        model = self.provider_class.config_model.model_validate(config)
        return self.provider_class(self.instance_name, model, context)

    @pytest_asyncio.fixture
    async def provider(
        self, provider_config: dict[str, Any], context: RecordingContext
    ) -> AsyncIterator[Provider]:
        """The adapter, started, its routes served; stopped afterwards."""
        provider = self.build(provider_config, context)
        async with serve_routes(provider, context):
            await provider.start()
            try:
                yield provider
            finally:
                await provider.stop()

    async def opened(
        self,
        provider: Provider,
        context: RecordingContext,
        conversation_id: str = "c_conformance0001",
    ) -> ConversationRef:
        """Open a sample conversation, as the hub would; a ticket ends it, as in the hub."""
        handoff = sample_handoff(conversation_id)
        context.own(handoff.conversation_id)
        try:
            result = await provider.open(handoff)
        except (ProviderUnavailable, ProviderRefused) as exc:
            raise AssertionError(
                "expected open() to take the conversation this check needs (give the test "
                f"platform agents online); but it raised {type(exc).__name__}: {exc}"
            ) from None
        assert isinstance(result, (Opened, TicketCreated)), (
            f"expected open() to return Opened or TicketCreated; but it returned {result!r}"
        )
        if isinstance(result, TicketCreated):
            context.mark_ticket(handoff.conversation_id)
        return ConversationRef(handoff.conversation_id, result.ref)

    @contextlib.asynccontextmanager
    async def watched(
        self, config: dict[str, Any], context: RecordingContext, *, let_finish: bool = False
    ) -> AsyncIterator[Provider]:
        """A provider built and started with its tasks, sockets and threads watched; once
        the block (which stops it) is done, nothing it started may be left running."""
        leftovers = Leftovers()
        with leftovers.watching():
            provider = self.build(config, context)
            await provider.start()
            yield provider
        await self.stopped_cleanly(provider, context, leftovers, let_finish=let_finish)

    async def stopped_cleanly(
        self,
        provider: Provider,
        context: RecordingContext,
        leftovers: Leftovers,
        *,
        let_finish: bool = False,
    ) -> None:
        """After ``stop()``: the hub closes the shared session; then nothing may be left
        (a task that was cancelled gets ``stop_grace`` seconds to end; with ``let_finish``,
        every task does)."""
        try:
            shared = context.http
        except RuntimeError:
            shared = None
        if shared is not None:
            await shared.close()
        remaining = await leftovers.remaining(self.stop_grace, let_finish=let_finish)
        assert not remaining, f"{type(provider).__name__} left after stop(): " + "; ".join(
            remaining
        )

    # -- the adapter class -----------------------------------------------------------------------

    def test_declares_its_name_config_and_capabilities(self) -> None:
        cls = self.provider_class
        assert issubclass(cls, Provider)
        assert isinstance(cls.name, str) and re.match(r"^[a-z0-9][a-z0-9_-]*$", cls.name)
        assert issubclass(cls.config_model, ProviderConfig)
        assert isinstance(cls.capabilities, frozenset)
        assert all(isinstance(capability, Capability) for capability in cls.capabilities)

    def test_config_refuses_unknown_keys(self, provider_config: dict[str, Any]) -> None:
        self.provider_class.config_model.model_validate(provider_config)
        with pytest.raises(ValidationError):
            self.provider_class.config_model.model_validate(
                {**provider_config, "no_such_key_for_conformance": 1}
            )

    def test_secrets_are_secret_strings(self) -> None:
        for name, field in self.provider_class.config_model.model_fields.items():
            if any(word in name.lower() for word in _SECRET_WORDS):
                annotation = field.annotation
                allowed = {annotation, *typing.get_args(annotation)}
                assert SecretStr in allowed, f"config field {name!r} must be a SecretStr"

    def test_declared_capabilities_are_implemented(self) -> None:
        cls = self.provider_class
        assert missing_methods(cls, frozenset(cls.capabilities)) == []

    def test_routes_are_route_definitions(
        self, provider_config: dict[str, Any], context: RecordingContext
    ) -> None:
        routes = list(self.build(provider_config, context).routes())
        for route in routes:
            assert isinstance(route, web.RouteDef)
            assert route.path.startswith("/")
        inbound = web.Application()
        inbound.router.add_routes(routes)  # as the hub mounts them
        web.Application().add_subapp(f"/providers/{self.instance_name}/", inbound)

    # -- start and stop ------------------------------------------------------------------------

    @pytest.mark.asyncio
    @bounded
    async def test_starts_checks_and_stops_cleanly(
        self, provider_config: dict[str, Any], context: RecordingContext
    ) -> None:
        """start(), check() (healthy), stop() with no conversation: nothing left behind."""
        async with self.watched(provider_config, context) as provider:
            health = await provider.check()
            await provider.stop()
            assert isinstance(health, Health)
            assert health.ok, health.detail

    @pytest.mark.asyncio
    @bounded
    async def test_stops_cleanly_after_a_conversation(
        self, provider_config: dict[str, Any], context: RecordingContext
    ) -> None:
        """Whatever open, deliver and close started in the background ends with stop()."""
        async with self.watched(provider_config, context) as provider:
            try:
                handoff = sample_handoff()
                context.own(handoff.conversation_id)
                result = await typed(provider.open(handoff), "open()")
                ref = ConversationRef(handoff.conversation_id, getattr(result, "ref", None))
                if isinstance(result, TicketCreated):
                    context.mark_ticket(handoff.conversation_id)
                await typed(provider.deliver(sample_message(ref.id, ref.ref)), "deliver()")
                await typed(provider.close(Closing(ref, "resolved", "user")), "close()")
            finally:
                await provider.stop()

    @pytest.mark.asyncio
    @bounded
    async def test_calls_after_stop_are_refused_or_harmless(
        self, provider_config: dict[str, Any], context: RecordingContext
    ) -> None:
        """A call that arrives after stop() (the hub shutting down, a delivery in flight)
        raises a typed error or does its work; what it starts must end by itself within
        ``stop_grace`` seconds (the loop is about to close), not run on."""
        async with self.watched(provider_config, context, let_finish=True) as provider:
            await provider.stop()
            answer = await typed(
                provider.availability(AvailabilityRequest(queue="support")),
                "availability() after stop()",
            )
            assert answer is None or isinstance(answer, Availability)
            handoff = sample_handoff("c_afterstop0001")
            context.own(handoff.conversation_id)
            result = await typed(provider.open(handoff), "open() after stop()")
            assert result is None or isinstance(result, (Opened, TicketCreated))
            ref = ConversationRef(handoff.conversation_id, getattr(result, "ref", None))
            message = sample_message(ref.id, ref.ref, "m_afterstop0001")
            await typed(provider.deliver(message), "deliver() after stop()")
            await typed(provider.close(Closing(ref, "hub-stopping", "hub")), "close() after stop()")

    # -- the calls ---------------------------------------------------------------------------------

    @pytest.mark.asyncio
    @bounded
    async def test_availability_is_an_availability(self, provider: Provider) -> None:
        answer = await provider.availability(AvailabilityRequest(queue="support", language="en"))
        assert isinstance(answer, Availability)
        assert answer.reason in ("open", "closed", "disabled", "no-agents")
        assert answer.kind in ("live", "ticket")
        assert answer.open == (answer.reason == "open")

    @pytest.mark.asyncio
    @bounded
    async def test_open_is_idempotent_on_the_conversation(
        self, provider: Provider, context: RecordingContext
    ) -> None:
        handoff = sample_handoff()
        context.own(handoff.conversation_id)
        try:
            first = await provider.open(handoff)
        except (ProviderRefused, ProviderUnavailable):
            return  # a refusal is a valid answer; it must then be typed, as it was
        assert isinstance(first, (Opened, TicketCreated))
        second = await provider.open(handoff)
        assert type(second) is type(first), (
            f"expected a second open() of the same conversation to answer as the first "
            f"({first!r}); but it answered {second!r}"
        )
        if isinstance(first, Opened):
            assert isinstance(second, Opened)
            assert second.ref == first.ref, (
                f"expected the same ref from a second open(); but got {second.ref!r} after "
                f"{first.ref!r} (open must be idempotent on the conversation id)"
            )
        else:
            assert isinstance(second, TicketCreated)
            assert second.ticket_id == first.ticket_id, (
                f"expected the same ticket from a second open(); but got {second.ticket_id!r} "
                f"after {first.ticket_id!r}"
            )

    @pytest.mark.asyncio
    @bounded
    async def test_deliver_is_idempotent_on_the_message_id(
        self,
        provider: Provider,
        context: RecordingContext,
        delivered_ids: Callable[[], Awaitable[list[str]]] | None,
    ) -> None:
        ref = await self.opened(provider, context)
        message = sample_message(ref.id, ref.ref)
        await provider.deliver(message)
        await provider.deliver(message)
        if delivered_ids is not None:
            count = (await delivered_ids()).count(message.id)
            assert count == 1, (
                f"expected a message delivered twice (same id) to reach the agents once; "
                f"but it reached them {count} times"
            )

    @pytest.mark.asyncio
    @bounded
    async def test_close_is_accepted_twice(
        self, provider: Provider, context: RecordingContext
    ) -> None:
        ref = await self.opened(provider, context)
        closing = Closing(ref, "resolved", "user")
        await provider.close(closing)
        await provider.close(closing)

    @pytest.mark.asyncio
    @bounded
    async def test_declared_capabilities_answer(
        self, provider: Provider, context: RecordingContext
    ) -> None:
        """Each optional call the adapter declares works on an open conversation (or fails
        with a typed error): user typing, read receipts, media, queue position, transfer."""
        capabilities = self.provider_class.capabilities
        ref = await self.opened(provider, context)
        if Capability.USER_TYPING in capabilities:
            assert isinstance(provider, SupportsUserTyping)
            await typed(provider.user_typing(ref, True), "user_typing(True)")
            await typed(provider.user_typing(ref, False), "user_typing(False)")
        if Capability.MEDIA in capabilities or Capability.READ_RECEIPTS in capabilities:
            media = None
            if Capability.MEDIA in capabilities and ref.id not in context.ended:
                media = await context.store_media(ref.id, "note.txt", "text/plain", b"A-17")
            message = OutboundMessage(
                "m_conformance0002", ref, "Here it is", sample_message().sent_at, media
            )
            await typed(provider.deliver(message), "deliver() of a message with a file")
            if Capability.READ_RECEIPTS in capabilities:
                assert isinstance(provider, SupportsReadReceipts)
                await typed(provider.user_read(ref, message.id), "user_read()")
        if Capability.QUEUE_POSITION in capabilities:
            assert isinstance(provider, SupportsQueuePosition)
            answer = await typed(provider.queue_position(ref), "queue_position()")
            if answer is not None:
                position, wait = answer
                assert position is None or (isinstance(position, int) and position >= 1)
                assert wait is None or (isinstance(wait, (int, float)) and wait >= 0)
        if Capability.TRANSFER in capabilities:
            assert isinstance(provider, SupportsTransfer)
            await typed(provider.transfer(ref, queue="support", agent_id=None), "transfer()")

    @pytest.mark.asyncio
    @bounded
    async def test_failures_are_typed(
        self,
        unreachable_config: dict[str, Any] | None,
        context: RecordingContext,
    ) -> None:
        """With the remote end down: check() says so, open() raises an error the hub acts
        on, the other calls fail typed too, and stop() still leaves nothing behind."""
        if unreachable_config is None:
            assert not self.remote, "an adapter with a remote end must define unreachable_config"
            return
        async with self.watched(unreachable_config, context) as provider:
            try:
                health = await provider.check()
                assert not health.ok, "check() should report an unreachable remote end"
                handoff = sample_handoff()
                context.own(handoff.conversation_id)
                with pytest.raises(OPEN_ERRORS):
                    await provider.open(handoff)
                ref = ConversationRef(handoff.conversation_id, None)
                await typed(provider.availability(AvailabilityRequest("support")), "availability()")
                await typed(provider.deliver(sample_message(ref.id)), "deliver()")
                await typed(provider.close(Closing(ref, "resolved", "user")), "close()")
            finally:
                await provider.stop()

    # -- the agent side ------------------------------------------------------------------------

    @pytest.mark.asyncio
    @bounded
    async def test_agent_side_events_reach_the_context_once(
        self, provider: Provider, context: RecordingContext, agent_side: AgentSide | None
    ) -> None:
        """Each kind of event the agent side reports reaches the context once, about the
        right conversation, with what it carried; a second event of the same kind arrives
        too; a replayed one (same event id) changes nothing."""
        if agent_side is None:
            pytest.skip("no agent_side fixture: agent-side events are not checked")
        for index, kind in enumerate(agent_side.kinds):
            await self._check_event_kind(provider, context, agent_side, index, kind)

    async def _check_event_kind(
        self,
        provider: Provider,
        context: RecordingContext,
        agent_side: AgentSide,
        index: int,
        kind: str,
    ) -> None:
        conversation_id = f"c_kit{index}{kind.replace('_', '')}"
        ref = await self.opened(provider, context, conversation_id)
        message_ids = (f"m_kit{index}a", f"m_kit{index}b")
        if kind == "message_status":
            for message_id in message_ids:
                await provider.deliver(sample_message(ref.id, ref.ref, message_id))
        report = agent_side.reporters[kind]
        first, second = events_for(kind, ref, message_ids)

        await report(first)
        calls = await self._arrived(context, kind, ref.id, 1)
        self._assert_carries(calls[0], first)
        replayed = agent_side.replays and kind not in STATES
        if replayed:
            assert calls[0].event_id is not None, (
                f"{kind}: the adapter passed no event_id; pass the platform's id for the "
                "event, so that a repeated delivery changes nothing"
            )
            await report(first)  # the platform sends it again
        if kind not in TERMINAL:
            await report(second)
            await self._arrived(context, kind, ref.id, 2)
        await asyncio.sleep(0.05)  # anything more would have arrived by now
        calls = context.named(kind, ref.id)
        expected = 1 if kind in TERMINAL else 2
        assert len(calls) == expected, (
            f"{kind}: {len(calls)} calls reached the context, expected {expected}"
            + (" (the replay of an event reached it again)" if replayed else "")
        )
        if kind not in TERMINAL:
            self._assert_carries(calls[1], second)

    async def _arrived(
        self, context: RecordingContext, kind: str, conversation_id: str, count: int
    ) -> list[ContextCall]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.event_timeout
        while len(calls := context.named(kind, conversation_id)) < count:
            if loop.time() > deadline:
                seen = [(c.name, c.conversation_id) for c in context.calls[-5:]]
                raise AssertionError(
                    f"{kind}: the event did not reach the context within "
                    f"{self.event_timeout:g}s (the context's last calls: {seen})"
                )
            await asyncio.sleep(0.01)
        return calls

    @staticmethod
    def _assert_carries(call: ContextCall, event: AgentEvent) -> None:
        problem = mismatch(call, event)
        assert problem is None, f"{event.kind} ({event.event_id}): {problem}"
