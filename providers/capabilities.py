"""Optional capabilities: an adapter declares them, the hub checks them at load time.

``Provider.capabilities`` lists what the adapter supports. Each capability with methods
has a protocol below; declaring one without implementing its methods is a broken plugin,
reported when the adapter is loaded, not when a user first needs it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable

from providers.values import ConversationRef


class Capability(StrEnum):
    USER_TYPING = "user-typing"  # the user's typing is forwarded to the agent
    READ_RECEIPTS = "read-receipts"  # the user's reads are forwarded to the agent
    MEDIA = "media"  # deliver() takes messages with files
    TRANSFER = "transfer"  # the hub can ask for a transfer to another queue or agent
    QUEUE_POSITION = "queue-position"  # the hub can ask for the position of a queued chat


@runtime_checkable
class SupportsUserTyping(Protocol):
    async def user_typing(self, conversation: ConversationRef, typing: bool) -> None: ...


@runtime_checkable
class SupportsReadReceipts(Protocol):
    async def user_read(self, conversation: ConversationRef, up_to: str) -> None: ...


@runtime_checkable
class SupportsTransfer(Protocol):
    async def transfer(
        self, conversation: ConversationRef, *, queue: str | None, agent_id: str | None
    ) -> None: ...


@runtime_checkable
class SupportsQueuePosition(Protocol):
    async def queue_position(
        self, conversation: ConversationRef
    ) -> tuple[int | None, float | None]:
        """The position (1 = next) and the estimated wait in seconds."""
        ...


PROTOCOLS: dict[Capability, type] = {
    Capability.USER_TYPING: SupportsUserTyping,
    Capability.READ_RECEIPTS: SupportsReadReceipts,
    Capability.TRANSFER: SupportsTransfer,
    Capability.QUEUE_POSITION: SupportsQueuePosition,
}


def missing_methods(provider_class: type, capabilities: frozenset[Capability]) -> list[str]:
    """The methods a class lacks for the capabilities it declares ("capability.method")."""
    missing = []
    for capability in sorted(capabilities):
        protocol = PROTOCOLS.get(capability)
        if protocol is None:
            continue
        for name in _methods(protocol):
            if not callable(getattr(provider_class, name, None)):
                missing.append(f"{capability.value}: {name}()")
    return missing


def _methods(protocol: type) -> list[str]:
    return [
        name
        for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("_")
    ]
