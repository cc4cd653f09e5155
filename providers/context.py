"""ProviderContext: the only door from an adapter into the hub.

Every ``conversation_id`` is the hub's id (``Handoff.conversation_id``). Calls that carry an
``event_id`` are idempotent on it: an echoed or replayed event changes nothing the second
time. Calls about a conversation this instance does not own raise ``UnknownConversation``;
calls about one that has ended raise ``ConversationEnded``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Literal

import aiohttp

from providers.values import Agent, MediaInfo

if TYPE_CHECKING:
    from providers.workspace import Workspace

MessageStatus = Literal["delivered", "read", "failed"]


class ProviderContext(ABC):
    instance: str
    logger: logging.Logger

    @property
    @abstractmethod
    def http(self) -> aiohttp.ClientSession:
        """The hub's shared HTTP client session (available from ``start()`` on)."""

    @property
    def workspace(self) -> Workspace:
        """The hub's agents and desk waiting lists, for adapters that run their own agents
        (the built-in desk). Other adapters never need it."""
        raise NotImplementedError("this context offers no agent workspace")

    @abstractmethod
    def url_for(self, path: str) -> str:
        """The public URL of one of this instance's inbound routes (``path`` starts with /)."""

    @abstractmethod
    def report_health(self, ok: bool, detail: str = "") -> None:
        """Tell the hub whether this instance works; an unhealthy one is skipped by routing."""

    @abstractmethod
    async def agent_joined(
        self, conversation_id: str, agent: Agent, *, event_id: str | None = None
    ) -> None:
        """An agent took the conversation (a different agent than before: a transfer)."""

    @abstractmethod
    async def agent_left(
        self, conversation_id: str, *, reason: str | None = None, event_id: str | None = None
    ) -> None:
        """The agent left; the conversation waits in the queue again."""

    @abstractmethod
    async def agent_message(
        self,
        conversation_id: str,
        html: str,
        *,
        agent: Agent | None = None,
        event_id: str | None = None,
        media_id: str | None = None,
    ) -> str:
        """The agent wrote; ``html`` is sanitised by the hub. Returns the message's externalId.

        On a conversation that became a ticket the message is recorded on it (agents see
        it in the dashboard) but not shown to the chatbot, which is back with the bot."""

    @abstractmethod
    async def agent_typing(
        self, conversation_id: str, typing: bool, *, agent: Agent | None = None
    ) -> None:
        """The agent started or stopped typing (typing also stops by itself after a while)."""

    @abstractmethod
    async def agent_profile(
        self, conversation_id: str, agent: Agent, *, event_id: str | None = None
    ) -> None:
        """The agent's name or icon changed."""

    @abstractmethod
    async def message_status(
        self,
        conversation_id: str,
        message_id: str,
        status: MessageStatus,
        *,
        event_id: str | None = None,
    ) -> None:
        """A user message (by its externalId) was delivered, read, or lost on the agent side."""

    @abstractmethod
    async def queue_update(
        self,
        conversation_id: str,
        position: int | None,
        estimated_wait: float | None,
    ) -> None:
        """The conversation's place in the provider's queue changed."""

    @abstractmethod
    async def conversation_closed(
        self,
        conversation_id: str,
        reason: str = "closed-by-agent",
        *,
        event_id: str | None = None,
    ) -> None:
        """The agent side ended the conversation; the chat goes back to the bot."""

    @abstractmethod
    async def ticket_created(
        self, conversation_id: str, ticket_id: str, *, event_id: str | None = None
    ) -> None:
        """The conversation became an offline ticket; the chat goes back to the bot."""

    @abstractmethod
    async def store_media(
        self, conversation_id: str, name: str, content_type: str, content: bytes
    ) -> MediaInfo:
        """Keep a file an agent sent, to attach to ``agent_message(media_id=...)``."""

    @abstractmethod
    async def read_media(self, media_id: str) -> tuple[MediaInfo, bytes]:
        """A file of one of this instance's conversations (for example a user's upload)."""
