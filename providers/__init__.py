"""The provider SDK: what an adapter author imports.

    from providers import Provider, ProviderConfig, ProviderContext, Capability, ...

Built-in adapters live in sub-packages (``providers.desk``, ``providers.email``,
``providers.webhook``) and use nothing but this surface, like any third-party plugin.
"""

from providers.base import Provider, ProviderConfig
from providers.capabilities import (
    Capability,
    SupportsQueuePosition,
    SupportsReadReceipts,
    SupportsTransfer,
    SupportsUserTyping,
)
from providers.context import CLOSE_REASONS, AdapterStore, MessageStatus, ProviderContext
from providers.errors import (
    ConversationEnded,
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderRefused,
    ProviderTransientError,
    ProviderUnavailable,
    UnknownConversation,
)
from providers.values import (
    Agent,
    Availability,
    AvailabilityRequest,
    Closing,
    ConversationRef,
    Handoff,
    Health,
    MediaInfo,
    Opened,
    OpenResult,
    OutboundMessage,
    TicketCreated,
    TranscriptItem,
    UserInfo,
)

ENTRY_POINT_GROUP = "offload_hub.providers"

__all__ = [
    "CLOSE_REASONS",
    "ENTRY_POINT_GROUP",
    "AdapterStore",
    "Agent",
    "Availability",
    "AvailabilityRequest",
    "Capability",
    "Closing",
    "ConversationEnded",
    "ConversationRef",
    "Handoff",
    "Health",
    "MediaInfo",
    "MessageStatus",
    "OpenResult",
    "Opened",
    "OutboundMessage",
    "Provider",
    "ProviderAuthError",
    "ProviderConfig",
    "ProviderConfigError",
    "ProviderContext",
    "ProviderError",
    "ProviderRefused",
    "ProviderTransientError",
    "ProviderUnavailable",
    "SupportsQueuePosition",
    "SupportsReadReceipts",
    "SupportsTransfer",
    "SupportsUserTyping",
    "TicketCreated",
    "TranscriptItem",
    "UnknownConversation",
    "UserInfo",
]
