"""The Provider base class: the small required interface every adapter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from providers.capabilities import Capability
from providers.values import (
    Availability,
    AvailabilityRequest,
    Closing,
    Handoff,
    Health,
    OpenResult,
    OutboundMessage,
)

if TYPE_CHECKING:
    from providers.context import ProviderContext


class ProviderConfig(BaseModel):
    """Base of an adapter's config model: unknown keys are errors, secrets are SecretStr."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Provider(ABC):
    """One provider adapter. The hub makes one object per configured instance.

    Class attributes describe the adapter: ``name`` (its entry-point name), ``title``,
    ``config_model`` and ``capabilities``. Every call is idempotent on the ids the hub
    passes, may raise the errors of :mod:`providers.errors`, and must not block the loop.
    """

    name: ClassVar[str]
    title: ClassVar[str] = ""
    config_model: ClassVar[type[ProviderConfig]] = ProviderConfig
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # Seconds between the hub's calls to ``check()`` while it runs; None: the hub's own
    # ``lifecycle.health_check_seconds``. The hub schedules the checks: no adapter loops.
    check_every: float | None = None

    def __init__(self, instance: str, config: ProviderConfig, context: ProviderContext) -> None:
        self.instance = instance
        self.config = config
        self.context = context

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def routes(self) -> Sequence[web.RouteDef]:
        """Inbound HTTP routes, mounted under ``/providers/{instance}/`` (paths start with /)."""
        return ()

    async def start(self) -> None:
        """Open connections, start background work. Called once, before any other call."""

    async def stop(self) -> None:
        """Release everything ``start`` took. Called once at shutdown."""

    async def check(self) -> Health:
        """Credentials and reachability, checked before the instance is used and then every
        ``check_every`` seconds (the hub calls it; an adapter never schedules it itself)."""
        return Health(ok=True)

    @abstractmethod
    async def availability(self, request: AvailabilityRequest) -> Availability:
        """Whether the provider can take a conversation now, and how long it would wait."""

    @abstractmethod
    async def open(self, handoff: Handoff) -> OpenResult:
        """Take the conversation: return ``Opened`` or ``TicketCreated``, or raise
        ``ProviderRefused`` / ``ProviderUnavailable``. Idempotent on the conversation id."""

    @abstractmethod
    async def deliver(self, message: OutboundMessage) -> None:
        """Pass a user message to the agent side. Idempotent on ``message.id``."""

    @abstractmethod
    async def close(self, closing: Closing) -> None:
        """The conversation ended on the hub's side (the user or bot left, the hub gave up)."""
