"""ProviderContext: the only door from an adapter into the hub.

Every ``conversation_id`` is the hub's id (``Handoff.conversation_id``). Calls that carry an
``event_id`` are idempotent on it: an echoed or replayed event changes nothing the second
time, and answers as it did the first time, even after the conversation ended or moved on.
Calls about a conversation this instance does not own raise ``UnknownConversation``;
calls about one that has ended raise ``ConversationEnded``.

Besides reporting, the context keeps what an adapter would otherwise need a database
for: the link between a platform's own chat id and the hub's conversation
(``link`` / ``lookup``), a small key-value store (``store``), files (``store_media``,
``media_link``); and it takes a platform's request to move a conversation on
(``request_transfer``).

Implementations (the hub's, and the kit's ``RecordingContext``) write the short reports
themselves. The five calls with more arguments are written once, here: each checks its
arguments the same way for every implementation, then hands them on as one value
(:class:`AgentMessage`, :class:`StatusReport`, :class:`ClosingReport`, :class:`AgentFile`,
:class:`TransferRequest`) to a hook the implementation writes (``_agent_message`` ...).
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import aiohttp

from providers.values import Agent, MediaInfo

if TYPE_CHECKING:
    from providers.workspace import Workspace

MessageStatus = Literal["delivered", "read", "failed"]
MESSAGE_STATUSES: tuple[MessageStatus, ...] = ("delivered", "read", "failed")
# The reasons a closing shows in the hub (``Closing.reason``, ``conversation_closed``):
# any short label is taken; these are the ones the hub itself uses.
CLOSE_REASONS = (
    "closed-by-agent",
    "resolved",
    "no-response",
    "duplicate",
    "spam",
    "other",
    "idle",
)

MAX_KEY_CHARS = 200
MAX_VALUE_BYTES = 64 * 1024


def check_store_key(key: str, *, what: str = "a store key") -> None:
    """ValueError unless ``key`` is a string of 1 to 200 characters (an :class:`AdapterStore`
    key, a platform id given to ``link``)."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS:
        raise ValueError(f"{what} is a string of 1 to {MAX_KEY_CHARS} characters")


def check_store_value(value: Any) -> None:
    """ValueError unless ``value`` is JSON of at most 64 KiB encoded."""
    try:
        size = len(json.dumps(value).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a stored value must be JSON: {exc}") from None
    if size > MAX_VALUE_BYTES:
        raise ValueError(f"a stored value is limited to {MAX_VALUE_BYTES} bytes as JSON")


# What the calls below hand their implementation. Plain slots classes, not frozen: one
# is built for every agent message (the relay's hot path), and frozen ones cost 4x that.


@dataclass(slots=True)
class AgentMessage:
    """``agent_message``'s arguments."""

    conversation_id: str
    html: str
    agent: Agent | None
    event_id: str | None
    media_id: str | None
    record_if_ended: bool


@dataclass(slots=True)
class StatusReport:
    """``message_status``'s arguments (``status`` checked)."""

    conversation_id: str
    message_id: str
    status: MessageStatus
    event_id: str | None


@dataclass(slots=True)
class ClosingReport:
    """``conversation_closed``'s arguments."""

    conversation_id: str
    reason: str
    event_id: str | None


@dataclass(slots=True)
class AgentFile:
    """``store_media``'s arguments (``event_id`` checked)."""

    conversation_id: str
    name: str
    content_type: str
    content: bytes
    event_id: str | None


@dataclass(slots=True)
class TransferRequest:
    """``request_transfer``'s arguments (exactly one of the three targets given)."""

    conversation_id: str
    queue: str | None
    agent_id: str | None
    next_step: bool
    event_id: str | None


class AdapterStore(ABC):
    """A small key-value store of one provider instance, kept by the hub (in its
    database, so it survives restarts and is shared by every hub process).

    Keys are strings of 1 to 200 characters; values anything JSON can hold, up to 64 KiB
    encoded. A value given a ``ttl`` (seconds) is gone after that long. Use it for what an
    adapter must remember across restarts: ids it has sent, a platform's cursor, a token.
    """

    @abstractmethod
    async def get(self, key: str) -> Any:
        """The value, or None when there is none (or it expired)."""

    @abstractmethod
    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        """Keep ``value`` under ``key`` (replacing what was there)."""

    @abstractmethod
    async def add(self, key: str, value: Any, *, ttl: float | None = None) -> bool:
        """Keep ``value`` only if ``key`` has none: True when it was added, False when the
        key was taken (by this or another hub process). The way to do a thing once."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Forget ``key`` (nothing happens when it has no value)."""


class ProviderContext(ABC):
    """The adapter's door into the hub (one per instance).

    The agent-side reports (``agent_joined`` through ``ticket_created``) are taken when they
    are called, in the order of the calls, and the awaitable they return says when the hub
    has stored them (or raises why not). An adapter normally awaits each one; one that
    receives events in bulk may call several, then await them together."""

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
    def agent_joined(
        self, conversation_id: str, agent: Agent, *, event_id: str | None = None
    ) -> Awaitable[None]:
        """An agent took the conversation (a different agent than before: a transfer)."""

    @abstractmethod
    def agent_left(
        self, conversation_id: str, *, reason: str | None = None, event_id: str | None = None
    ) -> Awaitable[None]:
        """The agent left; the conversation waits in the queue again."""

    def agent_message(
        self,
        conversation_id: str,
        html: str,
        *,
        agent: Agent | None = None,
        event_id: str | None = None,
        media_id: str | None = None,
        record_if_ended: bool = False,
    ) -> Awaitable[str]:
        """The agent wrote; ``html`` is sanitised by the hub. Returns the message's externalId.

        On a conversation that became a ticket the message is recorded on it (agents see
        it in the dashboard) but not shown to the chatbot, which is back with the bot. On
        one that ended otherwise it is ``ConversationEnded``, unless ``record_if_ended``:
        then it is recorded the same way (a late email reply, say)."""
        return self._agent_message(
            AgentMessage(conversation_id, html, agent, event_id, media_id, record_if_ended)
        )

    @abstractmethod
    def _agent_message(self, message: AgentMessage) -> Awaitable[str]:
        """The implementation of ``agent_message``."""

    @abstractmethod
    def agent_typing(
        self, conversation_id: str, typing: bool, *, agent: Agent | None = None
    ) -> Awaitable[None]:
        """The agent started or stopped typing (typing also stops by itself after a while)."""

    @abstractmethod
    def agent_profile(
        self, conversation_id: str, agent: Agent, *, event_id: str | None = None
    ) -> Awaitable[None]:
        """The agent's name or icon changed."""

    def message_status(
        self,
        conversation_id: str,
        message_id: str,
        status: MessageStatus,
        *,
        event_id: str | None = None,
    ) -> Awaitable[None]:
        """A user message (by its externalId) was delivered, read, or lost on the agent side."""
        if status not in MESSAGE_STATUSES:
            raise ValueError(f"unknown message status {status!r}")
        return self._message_status(StatusReport(conversation_id, message_id, status, event_id))

    @abstractmethod
    def _message_status(self, report: StatusReport) -> Awaitable[None]:
        """The implementation of ``message_status``."""

    @abstractmethod
    def queue_update(
        self,
        conversation_id: str,
        position: int | None,
        estimated_wait: float | None,
    ) -> Awaitable[None]:
        """The conversation's place in the provider's queue changed."""

    def conversation_closed(
        self,
        conversation_id: str,
        reason: str = "closed-by-agent",
        *,
        event_id: str | None = None,
    ) -> Awaitable[None]:
        """The agent side ended the conversation; the chat goes back to the bot."""
        return self._conversation_closed(ClosingReport(conversation_id, reason, event_id))

    @abstractmethod
    def _conversation_closed(self, report: ClosingReport) -> Awaitable[None]:
        """The implementation of ``conversation_closed``."""

    @abstractmethod
    def ticket_created(
        self, conversation_id: str, ticket_id: str, *, event_id: str | None = None
    ) -> Awaitable[None]:
        """The conversation became an offline ticket; the chat goes back to the bot."""

    async def store_media(
        self,
        conversation_id: str,
        name: str,
        content_type: str,
        content: bytes,
        *,
        event_id: str | None = None,
    ) -> MediaInfo:
        """Keep a file an agent sent, to attach to ``agent_message(media_id=...)``.

        With ``event_id`` (the platform's id for the event that carried the file), a
        replay stores nothing new and returns the first file."""
        if event_id is not None:
            check_store_key(event_id, what="event_id")
        return await self._store_media(
            AgentFile(conversation_id, name, content_type, content, event_id)
        )

    @abstractmethod
    async def _store_media(self, file: AgentFile) -> MediaInfo:
        """The implementation of ``store_media``."""

    @abstractmethod
    async def read_media(self, media_id: str) -> tuple[MediaInfo, bytes]:
        """A file of one of this instance's conversations (for example a user's upload)."""

    @abstractmethod
    def media_link(self, media_id: str, ttl: float = 3600.0) -> str:
        """An absolute URL of a file of this instance's conversations that works without
        any other credential for ``ttl`` seconds (for a platform to download it)."""

    @abstractmethod
    async def link(self, conversation_id: str, platform_id: str) -> None:
        """Remember the platform's own id for a conversation this instance holds, so
        that ``lookup(platform_id)`` finds it again (in any hub process, after restarts).

        Linking the same pair again changes nothing; a platform id already linked to
        another conversation is a ``ValueError``."""

    @abstractmethod
    async def lookup(self, platform_id: str) -> str | None:
        """The hub's conversation id linked to ``platform_id`` by this instance, or None."""

    @property
    @abstractmethod
    def store(self) -> AdapterStore:
        """This instance's key-value store."""

    async def request_transfer(
        self,
        conversation_id: str,
        *,
        queue: str | None = None,
        agent_id: str | None = None,
        next_step: bool = False,
        event_id: str | None = None,
    ) -> None:
        """The platform moves the conversation on; give exactly one of:

        - ``queue``: the hub routes it into that queue (the hub's queue name), from the
          first step of its chain;
        - ``agent_id``: an agent of the hub's own desk (an ``AgentAccount`` id) takes it;
        - ``next_step=True``: the next step of its current chain takes it.

        The user sees the agent leave, then what the new holder does (the queue, an
        agent joining, a ticket). This instance no longer holds the conversation after;
        it gets ``close(reason="transfer")``. An unknown queue or agent, or no next step,
        is a ``ValueError`` and changes nothing."""
        if sum((queue is not None, agent_id is not None, bool(next_step))) != 1:
            raise ValueError("give exactly one of queue, agent_id and next_step")
        await self._request_transfer(
            TransferRequest(conversation_id, queue, agent_id, bool(next_step), event_id)
        )

    @abstractmethod
    async def _request_transfer(self, transfer: TransferRequest) -> None:
        """The implementation of ``request_transfer``."""
