"""The platform double: what the kit needs from an author's test fake of their platform.

An author implements :class:`PlatformDouble` over the fake their own tests already use
(a real local HTTP server standing in for the platform) and returns it from the
``platform_double`` fixture. The kit then checks what only the platform can show: what it
received, what happens when it has no agents or goes down, and how the adapter takes the
events the platform sends (signed, stale, replayed, for unknown conversations).
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from providers.testing.agent_side import AgentEvent

Signature = Literal["valid", "invalid", "stale", "missing"]


@runtime_checkable
class PlatformDouble(Protocol):
    async def texts(self, conversation_id: str) -> list[str]:
        """Every text the platform's agents were shown for this conversation (by the hub's
        id), in order: the transcript and inquiry from ``open``, then delivered messages."""
        ...

    async def typing(self, conversation_id: str) -> list[bool]:
        """The user's typing states the platform was told, in order."""
        ...

    async def set_agents_online(self, count: int) -> None:
        """How many agents the platform has online from now on (0: nobody to answer)."""
        ...

    async def go_down(self) -> None:
        """The platform stops answering (connections refused, or 503 to everything)."""
        ...

    async def come_back(self) -> None:
        """The platform answers again, with what it knew before."""
        ...

    async def drop(self, conversation_id: str) -> None:
        """The platform forgets a chat (an agent closed it there, it expired)."""
        ...

    async def send(self, event: AgentEvent, *, signature: Signature = "valid") -> int:
        """The platform sends ``event`` to the adapter the way it really does (a signed
        POST to the adapter's route), with a valid, wrong, too old or no signature;
        returns the HTTP status the adapter answered."""
        ...
