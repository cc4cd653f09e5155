"""The kit's checks that need a :class:`PlatformDouble` (the ``platform_double`` fixture).

Each failure says what was expected and what happened. Without the fixture they are
skipped, and say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from providers.base import Provider
from providers.capabilities import Capability, SupportsUserTyping
from providers.errors import (
    ProviderRefused,
    ProviderTransientError,
    ProviderUnavailable,
)
from providers.testing.agent_side import AgentEvent
from providers.testing.context import RecordingContext
from providers.testing.platform import PlatformDouble
from providers.testing.samples import sample_handoff, sample_message
from providers.values import (
    Availability,
    AvailabilityRequest,
    Closing,
    ConversationRef,
    Opened,
    TicketCreated,
)

# Plain text an agent types that looks like markup: the user must read it as typed.
MARKUP_TEXT = "Use <b>bold</b> & <i>co</i> for 2 < 3 > 1"
_TAG = re.compile(r"<[^>]*>")


def expect(condition: bool, expected: str, happened: str) -> None:
    """Fail with what the contract expects and what the adapter did."""
    if not condition:
        raise AssertionError(f"expected {expected}; but {happened}")


def double_of(platform_double: PlatformDouble | None) -> PlatformDouble:
    if platform_double is None:
        pytest.skip("no platform_double fixture: the platform-side checks are not run")
    expect(
        isinstance(platform_double, PlatformDouble),
        "platform_double to implement providers.testing.PlatformDouble",
        f"it is a {type(platform_double).__name__} without all of its methods",
    )
    return platform_double


async def open_on(
    provider: Provider, context: RecordingContext, conversation_id: str
) -> ConversationRef:
    handoff = sample_handoff(conversation_id)
    context.own(conversation_id)
    try:
        result = await provider.open(handoff)
    except (ProviderUnavailable, ProviderRefused) as exc:
        raise AssertionError(
            f"expected open() to take a conversation while the platform has agents online; "
            f"but it raised {type(exc).__name__}: {exc}"
        ) from None
    expect(
        isinstance(result, (Opened, TicketCreated)),
        "open() to return Opened or TicketCreated",
        f"it returned {result!r}",
    )
    if isinstance(result, TicketCreated):
        context.mark_ticket(conversation_id)
    return ConversationRef(conversation_id, result.ref)


@contextlib.contextmanager
def slow_callbacks(threshold: float) -> Iterator[list[str]]:
    """Collect the loop's reports of callbacks that ran longer than ``threshold`` seconds
    (asyncio's debug mode), for the code run inside."""
    loop = asyncio.get_running_loop()
    found: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith("Executing") and "took" in message:
                found.append(message)

    handler = Catch(logging.WARNING)
    logger = logging.getLogger("asyncio")
    debug, duration = loop.get_debug(), loop.slow_callback_duration
    logger.addHandler(handler)
    loop.set_debug(True)
    loop.slow_callback_duration = threshold
    try:
        yield found
    finally:
        loop.set_debug(debug)
        loop.slow_callback_duration = duration
        logger.removeHandler(handler)


class PlatformChecks:
    """Mixed into ``ProviderConformance``. An adapter without a remote end (``remote`` is
    False: the built-in desk, a test double) has no platform: these checks are not
    collected for it."""

    remote: ClassVar[bool] = False
    # A live-chat platform behind the remote end (None: as ``remote`` says). An adapter
    # whose remote end is no chat platform (an SMTP server) sets it to False.
    chat_platform: ClassVar[bool | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        platform = cls.remote if cls.chat_platform is None else cls.chat_platform
        for name in PLATFORM_CHECKS:
            # Not a test of a class without a platform; restored for one with it.
            setattr(cls, name, vars(PlatformChecks)[name] if platform else None)

    provider_class: ClassVar[Any]
    event_timeout: ClassVar[float]
    slow_callback_seconds: float = 0.1  # a call that holds the loop longer fails

    async def _arrived_once(
        self, context: RecordingContext, kind: str, conversation_id: str
    ) -> list[Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.event_timeout
        while True:
            if context.named(kind, conversation_id) or loop.time() > deadline:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # a second one would have arrived by now
        return context.named(kind, conversation_id)

    @pytest.mark.asyncio
    async def test_inbound_events_need_a_valid_fresh_signature_and_replays_change_nothing(
        self, provider: Provider, context: RecordingContext, platform_double: Any
    ) -> None:
        double = double_of(platform_double)
        ref = await open_on(provider, context, "c_kitsigned0001")
        for signature in ("invalid", "stale", "missing"):
            forged = AgentEvent("agent_message", ref, f"kit-{signature}", text="forged")
            status = await double.send(forged, signature=signature)
            expect(
                400 <= status < 500,
                f"an event with a {signature} signature to be refused with a 4xx",
                f"the adapter answered {status}",
            )
        calls = context.named("agent_message", ref.id)
        expect(not calls, "no forged event to reach the hub", f"the context got {calls}")
        event = AgentEvent("agent_message", ref, "kit-signed-1", text="Hello from the kit")
        status = await double.send(event)
        expect(200 <= status < 300, "a signed event to be taken (2xx)", f"it answered {status}")
        await double.send(event)  # the platform sends it again
        calls = await self._arrived_once(context, "agent_message", ref.id)
        expect(
            len(calls) == 1,
            "a replayed event (same id) to reach the hub once",
            f"{len(calls)} agent_message calls reached it (pass the platform's id as event_id)",
        )

    @pytest.mark.asyncio
    async def test_an_event_for_an_unknown_conversation_is_a_404(
        self, provider: Provider, context: RecordingContext, platform_double: Any
    ) -> None:
        double = double_of(platform_double)
        unknown = ConversationRef("c_kitunknown0001", "kit-unknown-chat")
        status = await double.send(AgentEvent("agent_message", unknown, "kit-unknown", text="?"))
        expect(
            status == 404,
            "404 for an event about a conversation the hub does not know (so the platform "
            "stops sending it)",
            f"the adapter answered {status}",
        )

    @pytest.mark.asyncio
    async def test_a_delivery_to_a_platform_that_is_down_fails_typed(
        self, provider: Provider, context: RecordingContext, platform_double: Any
    ) -> None:
        double = double_of(platform_double)
        ref = await open_on(provider, context, "c_kitdown0001")
        await double.go_down()
        try:
            try:
                await provider.deliver(sample_message(ref.id, ref.ref, "m_kitdown0001"))
            except (ProviderTransientError, ProviderUnavailable):
                return
            except ProviderRefused as exc:
                raise AssertionError(
                    "expected ProviderTransientError or ProviderUnavailable from deliver() "
                    "while the platform is down (the hub retries, then moves the chat on); "
                    f"but it raised ProviderRefused ({exc}): the user sees ERROR_TICK for good"
                ) from None
            except Exception as exc:
                raise AssertionError(
                    "expected ProviderTransientError or ProviderUnavailable from deliver() "
                    f"while the platform is down; but it raised {type(exc).__name__}: {exc}"
                ) from None
            raise AssertionError(
                "expected deliver() to fail while the platform is down; but it returned, "
                "so the user would see SINGLE_TICK for a message nobody got"
            )
        finally:
            await double.come_back()

    @pytest.mark.asyncio
    async def test_no_agents_is_unavailable_not_a_refusal(
        self, provider: Provider, context: RecordingContext, platform_double: Any
    ) -> None:
        double = double_of(platform_double)
        request = AvailabilityRequest(queue="support", language="en")
        await double.set_agents_online(0)
        try:
            answer = await provider.availability(request)
            expect(
                isinstance(answer, Availability) and not answer.open,
                "availability() not open while the platform has 0 agents online",
                f"it answered {answer!r}",
            )
            context.own("c_kitnobody0001")
            try:
                await provider.open(sample_handoff("c_kitnobody0001"))
            except ProviderRefused as exc:
                raise AssertionError(
                    "expected ProviderUnavailable('no-agents') from open() with nobody online "
                    f"(the user hears 'no agents'); but it raised ProviderRefused ({exc})"
                ) from None
            except ProviderUnavailable:
                pass
        finally:
            await double.set_agents_online(2)
        answer = await provider.availability(request)
        expect(
            isinstance(answer, Availability) and answer.open,
            "availability() open again once the platform has agents online",
            f"it answered {answer!r}",
        )

    @pytest.mark.asyncio
    async def test_the_transcript_and_typing_reach_the_platform(
        self, provider: Provider, context: RecordingContext, platform_double: Any
    ) -> None:
        double = double_of(platform_double)
        ref = await open_on(provider, context, "c_kittranscript1")
        texts = "\n".join(await double.texts(ref.id))
        for item in sample_handoff().transcript:
            expect(
                item.message in texts,
                f"the transcript line {item.message!r} to reach the platform's agents",
                f"they were shown {texts[:300]!r}",
            )
        if Capability.USER_TYPING in self.provider_class.capabilities:
            assert isinstance(provider, SupportsUserTyping)
            await provider.user_typing(ref, True)
            await provider.user_typing(ref, False)
            states = await double.typing(ref.id)
            expect(
                states[-2:] == [True, False],
                "the user's typing on, then off, to reach the platform",
                f"it got {states}",
            )

    @pytest.mark.asyncio
    async def test_plain_agent_text_with_markup_characters_reaches_the_user_as_text(
        self, provider: Provider, context: RecordingContext, platform_double: Any
    ) -> None:
        double = double_of(platform_double)
        ref = await open_on(provider, context, "c_kitmarkup0001")
        status = await double.send(AgentEvent("agent_message", ref, "kit-markup", text=MARKUP_TEXT))
        expect(200 <= status < 300, "the agent's message to be taken", f"it answered {status}")
        calls = await self._arrived_once(context, "agent_message", ref.id)
        expect(bool(calls), "the agent's message to reach the hub", "nothing arrived")
        shown = calls[0].arguments["html"]
        read = html.unescape(_TAG.sub("", shown))
        expect(
            MARKUP_TEXT in read and "<b>" not in shown,
            f"the user to read {MARKUP_TEXT!r} as typed (plain text escaped into HTML)",
            f"the adapter passed the HTML {shown!r}",
        )

    @pytest.mark.asyncio
    async def test_closing_a_chat_the_platform_dropped_is_harmless(
        self, provider: Provider, context: RecordingContext, platform_double: Any
    ) -> None:
        double = double_of(platform_double)
        ref = await open_on(provider, context, "c_kitdropped0001")
        await double.drop(ref.id)
        try:
            await provider.close(Closing(ref, "resolved", "user"))
        except Exception as exc:
            raise AssertionError(
                "expected close() of a chat the platform already dropped to succeed (it is "
                f"closed there already); but it raised {type(exc).__name__}: {exc}"
            ) from None

    @pytest.mark.asyncio
    async def test_no_call_blocks_the_event_loop(
        self, provider: Provider, context: RecordingContext, platform_double: Any
    ) -> None:
        double = double_of(platform_double)
        with slow_callbacks(self.slow_callback_seconds) as slow:
            await provider.availability(AvailabilityRequest(queue="support"))
            ref = await open_on(provider, context, "c_kitloop0001")
            await provider.deliver(sample_message(ref.id, ref.ref, "m_kitloop0001"))
            await double.send(AgentEvent("agent_message", ref, "kit-loop", text="hi"))
            await provider.close(Closing(ref, "resolved", "user"))
        expect(
            not slow,
            f"no call to hold the event loop longer than {self.slow_callback_seconds:g}s "
            "(use async I/O, or run blocking work in a thread)",
            "asyncio reported: " + "; ".join(slow),
        )


PLATFORM_CHECKS = tuple(name for name in vars(PlatformChecks) if name.startswith("test_"))
