"""A ProviderContext that records what an adapter tells the hub."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from providers.context import MessageStatus, ProviderContext
from providers.errors import ConversationEnded, UnknownConversation
from providers.values import Agent, MediaInfo


@dataclass(frozen=True)
class ContextCall:
    name: str
    conversation_id: str | None
    arguments: dict[str, Any] = field(default_factory=dict)


class RecordingContext(ProviderContext):
    """Records every call. Conversations the test has not ``own``-ed are unknown, and ended
    ones refuse more, as the hub's own context does."""

    def __init__(
        self,
        instance: str = "under-test",
        *,
        http: aiohttp.ClientSession | None = None,
        base_url: str = "http://127.0.0.1:8080",
    ) -> None:
        self.instance = instance
        self.logger = logging.getLogger(f"offload_hub.providers.{instance}")
        self._http = http
        self.base_url = base_url
        self.calls: list[ContextCall] = []
        self.health: tuple[bool, str] | None = None
        self.owned: set[str] = set()
        self.ended: set[str] = set()
        self.tickets: set[str] = set()
        self.media: dict[str, tuple[MediaInfo, bytes]] = {}
        self._event_ids: set[str] = set()
        self._messages = 0

    # -- what a test arranges and reads ------------------------------------------------------

    def own(self, conversation_id: str) -> None:
        self.owned.add(conversation_id)

    def named(self, name: str) -> list[ContextCall]:
        return [call for call in self.calls if call.name == name]

    # -- ProviderContext -------------------------------------------------------------------------

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("this RecordingContext was made without an HTTP session")
        return self._http

    def url_for(self, path: str) -> str:
        return f"{self.base_url}/providers/{self.instance}{path}"

    def report_health(self, ok: bool, detail: str = "") -> None:
        self.health = (ok, detail)

    def _check(self, conversation_id: str, *, ended_ok: bool = False) -> None:
        if conversation_id not in self.owned:
            raise UnknownConversation(f"no conversation {conversation_id!r}")
        if conversation_id in self.ended and not ended_ok:
            raise ConversationEnded(f"conversation {conversation_id!r} has ended")

    def _record(
        self, name: str, conversation_id: str, event_id: str | None = None, **arguments: Any
    ) -> bool:
        """Record a call; False when its event id was seen before (nothing happens then)."""
        if event_id is not None:
            if event_id in self._event_ids:
                return False
            self._event_ids.add(event_id)
        self.calls.append(ContextCall(name, conversation_id, arguments))
        return True

    async def agent_joined(
        self, conversation_id: str, agent: Agent, *, event_id: str | None = None
    ) -> None:
        self._check(conversation_id)
        self._record("agent_joined", conversation_id, event_id, agent=agent)

    async def agent_left(
        self, conversation_id: str, *, reason: str | None = None, event_id: str | None = None
    ) -> None:
        self._check(conversation_id)
        self._record("agent_left", conversation_id, event_id, reason=reason)

    async def agent_message(
        self,
        conversation_id: str,
        html: str,
        *,
        agent: Agent | None = None,
        event_id: str | None = None,
        media_id: str | None = None,
    ) -> str:
        ticket = conversation_id in self.tickets
        self._check(conversation_id, ended_ok=ticket)
        self._messages += 1
        self._record(
            "agent_message", conversation_id, event_id, html=html, agent=agent, media_id=media_id
        )
        return f"m_recorded{self._messages}"

    async def agent_typing(
        self, conversation_id: str, typing: bool, *, agent: Agent | None = None
    ) -> None:
        self._check(conversation_id)
        self._record("agent_typing", conversation_id, typing=typing, agent=agent)

    async def agent_profile(
        self, conversation_id: str, agent: Agent, *, event_id: str | None = None
    ) -> None:
        self._check(conversation_id)
        self._record("agent_profile", conversation_id, event_id, agent=agent)

    async def message_status(
        self,
        conversation_id: str,
        message_id: str,
        status: MessageStatus,
        *,
        event_id: str | None = None,
    ) -> None:
        self._check(conversation_id, ended_ok=True)
        self._record(
            "message_status", conversation_id, event_id, message_id=message_id, status=status
        )

    async def queue_update(
        self, conversation_id: str, position: int | None, estimated_wait: float | None
    ) -> None:
        self._check(conversation_id)
        self._record(
            "queue_update", conversation_id, position=position, estimated_wait=estimated_wait
        )

    async def conversation_closed(
        self,
        conversation_id: str,
        reason: str = "closed-by-agent",
        *,
        event_id: str | None = None,
    ) -> None:
        self._check(conversation_id, ended_ok=True)
        if self._record("conversation_closed", conversation_id, event_id, reason=reason):
            self.ended.add(conversation_id)

    async def ticket_created(
        self, conversation_id: str, ticket_id: str, *, event_id: str | None = None
    ) -> None:
        self._check(conversation_id, ended_ok=True)
        if self._record("ticket_created", conversation_id, event_id, ticket_id=ticket_id):
            self.ended.add(conversation_id)
            self.tickets.add(conversation_id)

    async def store_media(
        self, conversation_id: str, name: str, content_type: str, content: bytes
    ) -> MediaInfo:
        self._check(conversation_id)
        media_id = f"f_recorded{len(self.media) + 1}"
        info = MediaInfo(media_id, name, content_type, len(content), f"/v1/media/{media_id}")
        self.media[media_id] = (info, content)
        self._record("store_media", conversation_id, media_id=media_id, name=name)
        return info

    async def read_media(self, media_id: str) -> tuple[MediaInfo, bytes]:
        if media_id not in self.media:
            raise UnknownConversation(f"no file {media_id!r}")
        return self.media[media_id]
