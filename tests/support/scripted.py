"""A provider adapter written with the SDK, for the tests: it does what its config says and
lets a test play the agent through its real ProviderContext."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from aiohttp import web

from providers import (
    Agent,
    Availability,
    AvailabilityRequest,
    Capability,
    Closing,
    ConversationRef,
    Handoff,
    Health,
    Opened,
    OpenResult,
    OutboundMessage,
    Provider,
    ProviderConfig,
    ProviderRefused,
    ProviderTransientError,
    TicketCreated,
)

Mode = Literal["open", "assign", "closed", "no-agents", "refuse", "crash", "ticket", "hang"]


class ScriptedConfig(ProviderConfig):
    mode: Mode = "open"
    position: int | None = 1
    estimated_wait: float | None = 60.0
    fail_deliveries: int = 0  # the first N deliver() calls fail transiently
    refuse_deliveries: bool = False
    unhealthy: bool = False
    # Tell the hub the position while open() runs, as the desk does when a dispatch
    # running beside the open announces the new conversation's place.
    announce_on_open: bool = False


class ScriptedProvider(Provider):
    name = "scripted"
    title = "Scripted test provider"
    config_model = ScriptedConfig
    capabilities = frozenset(
        {
            Capability.USER_TYPING,
            Capability.READ_RECEIPTS,
            Capability.MEDIA,
            Capability.QUEUE_POSITION,
        }
    )

    live: ClassVar[dict[str, ScriptedProvider]] = {}

    def __init__(self, instance: str, config: ScriptedConfig, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(instance, config, context)
        self.config: ScriptedConfig = config
        self.calls: list[tuple[str, object]] = []
        self.delivered: list[OutboundMessage] = []
        self.failures_left = config.fail_deliveries
        ScriptedProvider.live[instance] = self

    def routes(self) -> Sequence[web.RouteDef]:
        async def ping(request: web.Request) -> web.Response:
            return web.json_response({"instance": self.instance})

        return [web.get("/ping", ping)]

    async def start(self) -> None:
        self.calls.append(("start", None))

    async def stop(self) -> None:
        self.calls.append(("stop", None))

    async def check(self) -> Health:
        return Health(
            not self.config.unhealthy, "configured unhealthy" if self.config.unhealthy else ""
        )

    async def availability(self, request: AvailabilityRequest) -> Availability:
        self.calls.append(("availability", request))
        mode = self.config.mode
        if mode == "closed":
            return Availability(open=False, reason="closed", agents_online=0)
        if mode == "no-agents":
            return Availability(open=False, reason="no-agents", agents_online=0)
        if mode == "ticket":
            return Availability(open=True, kind="ticket")
        return Availability(open=True, agents_online=2, estimated_wait=self.config.estimated_wait)

    async def open(self, handoff: Handoff) -> OpenResult:
        self.calls.append(("open", handoff))
        mode = self.config.mode
        if mode == "refuse":
            raise ProviderRefused("full")
        if mode == "crash":
            raise RuntimeError("the provider exploded")
        if mode == "hang":
            import asyncio

            await asyncio.sleep(3600)
        if mode == "ticket":
            return TicketCreated(ticket_id=f"T-{handoff.conversation_id[-6:]}")
        if mode == "assign":
            await self.context.agent_joined(handoff.conversation_id, Agent("a1", "Ana"))
            return Opened(ref=f"ref-{handoff.conversation_id}", status="assigned")
        if self.config.announce_on_open:
            await self.context.queue_update(
                handoff.conversation_id, self.config.position, self.config.estimated_wait
            )
        return Opened(
            ref=f"ref-{handoff.conversation_id}",
            position=self.config.position,
            estimated_wait=self.config.estimated_wait,
        )

    async def deliver(self, message: OutboundMessage) -> None:
        self.calls.append(("deliver", message))
        if self.config.refuse_deliveries:
            raise ProviderRefused("not accepted")
        if self.failures_left > 0:
            self.failures_left -= 1
            raise ProviderTransientError("the platform is down")
        if all(m.id != message.id for m in self.delivered):
            self.delivered.append(message)

    async def close(self, closing: Closing) -> None:
        self.calls.append(("close", closing))

    async def user_typing(self, conversation: ConversationRef, typing: bool) -> None:
        self.calls.append(("user_typing", typing))

    async def user_read(self, conversation: ConversationRef, up_to: str) -> None:
        self.calls.append(("user_read", up_to))

    async def queue_position(
        self, conversation: ConversationRef
    ) -> tuple[int | None, float | None]:
        return self.config.position, self.config.estimated_wait

    def called(self, name: str) -> list[object]:
        return [argument for call, argument in self.calls if call == name]


class NotAProvider:
    """Registered under an entry point, but not a Provider."""


class CapabilityLiar(ScriptedProvider):
    """Declares a capability it does not implement."""

    name = "liar"
    capabilities = frozenset({Capability.TRANSFER})
