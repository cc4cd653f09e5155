"""A ProviderContext that records what an adapter tells the hub."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from providers.context import (
    AdapterStore,
    AgentFile,
    AgentMessage,
    ClosingReport,
    ProviderContext,
    StatusReport,
    TransferRequest,
    check_store_key,
    check_store_value,
)
from providers.errors import ConversationEnded, UnknownConversation
from providers.testing.workspace import MemoryWorkspace
from providers.values import Agent, MediaInfo
from providers.workspace import Workspace


@dataclass(frozen=True)
class ContextCall:
    """One call an adapter made: the method's name, the conversation, its arguments, and
    the ``event_id`` it passed (None when it passed none)."""

    name: str
    conversation_id: str | None
    arguments: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None


class MemoryStore(AdapterStore):
    """An :class:`AdapterStore` in memory, with the hub's limits (for tests)."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[Any, float | None]] = {}

    @staticmethod
    def _check(key: str, value: Any = None) -> None:
        check_store_key(key)
        check_store_value(value)

    def _live(self, key: str) -> bool:
        entry = self.values.get(key)
        if entry is None:
            return False
        if entry[1] is not None and entry[1] <= time.monotonic():
            del self.values[key]
            return False
        return True

    async def get(self, key: str) -> Any:
        self._check(key)
        return self.values[key][0] if self._live(key) else None

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        self._check(key, value)
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be more than 0 seconds")
        self.values[key] = (json.loads(json.dumps(value)), _deadline(ttl))

    async def add(self, key: str, value: Any, *, ttl: float | None = None) -> bool:
        self._check(key, value)
        if self._live(key):
            return False
        await self.set(key, value, ttl=ttl)
        return True

    async def delete(self, key: str) -> None:
        self._check(key)
        self.values.pop(key, None)


def _deadline(ttl: float | None) -> float | None:
    return None if ttl is None else time.monotonic() + ttl


class RecordingContext(ProviderContext):
    """Records every call, and answers like the hub's own context: conversations the test
    has not ``own``-ed are unknown (``UnknownConversation``), ended ones refuse more
    (``ConversationEnded``), a repeated ``event_id`` changes nothing (the call is not
    recorded again, and a repeated ``agent_message`` returns the first externalId).

    ``workspace`` is what ``context.workspace`` gives a desk-like adapter; a
    :class:`MemoryWorkspace` is bound to this context, so the agents it assigns, hands
    over and requeues show here as ``agent_joined`` / ``agent_left``, as the hub's
    workspace shows them to the chatbot."""

    def __init__(
        self,
        instance: str = "under-test",
        *,
        http: aiohttp.ClientSession | None = None,
        base_url: str = "http://127.0.0.1:8080",
        workspace: Workspace | None = None,
    ) -> None:
        self.instance = instance
        self.logger = logging.getLogger(f"offload_hub.providers.{instance}")
        self._http = http
        self._workspace = workspace
        self.base_url = base_url
        self.calls: list[ContextCall] = []
        self.health: tuple[bool, str] | None = None
        self.owned: set[str] = set()
        self.ended: set[str] = set()
        self.tickets: set[str] = set()
        self.media: dict[str, tuple[MediaInfo, bytes]] = {}
        self.links: dict[str, str] = {}  # platform id -> conversation id
        self.transfers: set[str] = set()  # conversations handed on by request_transfer
        self._store = MemoryStore()
        self._media_events: dict[tuple[str, str], str] = {}
        self._event_ids: set[str] = set()
        self._message_ids: dict[str, str] = {}  # event id -> the externalId it was given
        self._messages = 0
        if isinstance(workspace, MemoryWorkspace):
            workspace.bind(self)

    # -- what a test arranges and reads ------------------------------------------------------

    def own(self, conversation_id: str) -> None:
        """The hub handed this conversation to the adapter (before ``open``)."""
        self.owned.add(conversation_id)

    def mark_ticket(self, conversation_id: str) -> None:
        """``open`` answered ``TicketCreated``: the hub ends the chat as a ticket, on which
        agent replies are still recorded (what the hub does; not an adapter call)."""
        self.owned.add(conversation_id)
        self.ended.add(conversation_id)
        self.tickets.add(conversation_id)

    def named(self, name: str, conversation_id: str | None = None) -> list[ContextCall]:
        """The calls of one method (about one conversation, if given), in order."""
        return [
            call
            for call in self.calls
            if call.name == name
            and (conversation_id is None or call.conversation_id == conversation_id)
        ]

    # -- ProviderContext -------------------------------------------------------------------------

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("this RecordingContext was made without an HTTP session")
        return self._http

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            raise NotImplementedError(
                "this RecordingContext offers no agent workspace (pass workspace=...)"
            )
        return self._workspace

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
        self, method: str, conversation_id: str, event_id: str | None = None, /, **arguments: Any
    ) -> bool:
        """Record a call; False when its event id was seen before (nothing happens then)."""
        if event_id is not None:
            if event_id in self._event_ids:
                return False
            self._event_ids.add(event_id)
        self.calls.append(ContextCall(method, conversation_id, arguments, event_id))
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

    async def _agent_message(self, message: AgentMessage) -> str:
        conversation_id, event_id = message.conversation_id, message.event_id
        ticket = conversation_id in self.tickets or message.record_if_ended
        self._check(conversation_id, ended_ok=ticket)
        if event_id is not None and event_id in self._message_ids:
            return self._message_ids[event_id]
        self._messages += 1
        message_id = f"m_recorded{self._messages}"
        self._record(
            "agent_message",
            conversation_id,
            event_id,
            html=message.html,
            agent=message.agent,
            media_id=message.media_id,
        )
        if event_id is not None:
            self._message_ids[event_id] = message_id
        return message_id

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

    async def _message_status(self, report: StatusReport) -> None:
        self._check(report.conversation_id, ended_ok=True)
        self._record(
            "message_status",
            report.conversation_id,
            report.event_id,
            message_id=report.message_id,
            status=report.status,
        )

    async def queue_update(
        self, conversation_id: str, position: int | None, estimated_wait: float | None
    ) -> None:
        self._check(conversation_id)
        self._record(
            "queue_update", conversation_id, position=position, estimated_wait=estimated_wait
        )

    async def _conversation_closed(self, report: ClosingReport) -> None:
        conversation_id = report.conversation_id
        self._check(conversation_id, ended_ok=True)
        if conversation_id in self.ended:
            return  # over already: nothing changes (as in the hub)
        if self._record(
            "conversation_closed", conversation_id, report.event_id, reason=report.reason
        ):
            self.ended.add(conversation_id)

    async def ticket_created(
        self, conversation_id: str, ticket_id: str, *, event_id: str | None = None
    ) -> None:
        self._check(conversation_id, ended_ok=True)
        if conversation_id in self.ended:
            return  # over already: nothing changes (as in the hub)
        if self._record("ticket_created", conversation_id, event_id, ticket_id=ticket_id):
            self.ended.add(conversation_id)
            self.tickets.add(conversation_id)

    async def _store_media(self, file: AgentFile) -> MediaInfo:
        conversation_id, event_id = file.conversation_id, file.event_id
        if event_id is not None and (conversation_id, event_id) in self._media_events:
            return self.media[self._media_events[conversation_id, event_id]][0]
        self._check(conversation_id)
        media_id = f"f_recorded{len(self.media) + 1}"
        if event_id is not None:
            self._media_events[conversation_id, event_id] = media_id
        size = len(file.content)
        info = MediaInfo(media_id, file.name, file.content_type, size, f"/v1/media/{media_id}")
        self.media[media_id] = (info, file.content)
        self._record("store_media", conversation_id, None, media_id=media_id, name=file.name)
        return info

    async def read_media(self, media_id: str) -> tuple[MediaInfo, bytes]:
        if media_id not in self.media:
            raise UnknownConversation(f"no file {media_id!r}")
        return self.media[media_id]

    def media_link(self, media_id: str, ttl: float = 3600.0) -> str:
        if ttl <= 0:
            raise ValueError("ttl must be more than 0 seconds")
        return f"{self.base_url}/files/{media_id}?expires={int(time.time() + ttl)}&signature=kit"

    async def link(self, conversation_id: str, platform_id: str) -> None:
        self._check(conversation_id)
        check_store_key(platform_id, what="a platform id")
        if self.links.setdefault(platform_id, conversation_id) != conversation_id:
            raise ValueError(f"platform id {platform_id!r} is linked to another conversation")

    async def lookup(self, platform_id: str) -> str | None:
        return self.links.get(platform_id)

    @property
    def store(self) -> AdapterStore:
        return self._store

    async def _request_transfer(self, transfer: TransferRequest) -> None:
        conversation_id, event_id = transfer.conversation_id, transfer.event_id
        if event_id is not None and event_id in self._event_ids:
            return
        self._check(conversation_id)
        self._record(
            "request_transfer",
            conversation_id,
            event_id,
            queue=transfer.queue,
            agent_id=transfer.agent_id,
            next_step=transfer.next_step,
        )
        # As in the hub: the instance no longer holds the conversation.
        self.transfers.add(conversation_id)
        self.owned.discard(conversation_id)
