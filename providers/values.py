"""The values passed between the hub and provider adapters. All immutable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

AvailabilityReason = Literal["open", "closed", "disabled", "no-agents"]


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str | None = None
    last_name: str | None = None
    email: str | None = None
    language: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        full = " ".join(part for part in (self.name, self.last_name) if part)
        return full or "Visitor"


@dataclass(frozen=True, slots=True)
class TranscriptItem:
    """One line of the bot's history, in the SDK's getConversationTranscript shape."""

    user: Literal["guest", "assistant"]
    message: str
    datetime: str | None = None
    id: str | None = None
    external_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """A conversation as an adapter knows it: the hub's id and the adapter's own ref."""

    id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Handoff:
    """Everything the bot handed over, given to ``Provider.open``."""

    conversation_id: str
    bot_id: str
    session_id: str
    queue: str
    user: UserInfo
    inquiry: str
    transcript: tuple[TranscriptItem, ...]
    data: Mapping[str, Any]
    skills: tuple[str, ...]
    created_at: datetime
    wait_limit: float | None = None


@dataclass(frozen=True, slots=True)
class AvailabilityRequest:
    queue: str
    language: str | None = None
    skills: tuple[str, ...] = ()
    bot_id: str | None = None


@dataclass(frozen=True, slots=True)
class Availability:
    """What a provider can do now. ``kind`` is "live" (people chat) or "ticket" (offline)."""

    open: bool
    reason: AvailabilityReason = "open"
    agents_online: int | None = None
    estimated_wait: float | None = None
    kind: Literal["live", "ticket"] = "live"


@dataclass(frozen=True, slots=True)
class Opened:
    """``open`` accepted the conversation; it waits in a queue or has an agent already."""

    ref: str
    status: Literal["queued", "assigned"] = "queued"
    position: int | None = None
    estimated_wait: float | None = None


@dataclass(frozen=True, slots=True)
class TicketCreated:
    """``open`` turned the conversation into an offline ticket; the chat returns to the bot."""

    ticket_id: str
    ref: str | None = None


OpenResult = Opened | TicketCreated


@dataclass(frozen=True, slots=True)
class Agent:
    """A person on the provider side, as the chatbot will show them."""

    id: str
    name: str
    icon_url: str | None = None


@dataclass(frozen=True, slots=True)
class MediaInfo:
    id: str
    name: str
    content_type: str
    size: int
    url: str


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A user message for the provider; calls are idempotent on ``id`` (the hub's externalId)."""

    id: str
    conversation: ConversationRef
    text: str
    sent_at: datetime
    media: MediaInfo | None = None


@dataclass(frozen=True, slots=True)
class Closing:
    """Why a conversation ends, given to ``Provider.close``."""

    conversation: ConversationRef
    reason: str
    by: Literal["user", "bot", "hub", "agent"]


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str = ""
