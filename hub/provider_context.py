"""The hub's side of ``ProviderContext``: one per provider instance."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import aiohttp
import sqlalchemy as sa

from hub import media_links
from hub.conversation import agent_side, user_side
from hub.models import Media, table
from hub.security.sanitize import clean_html
from hub.store.conversations import get_conversation
from hub.store.media import get_media
from hub.store.provider_storage import HubAdapterStore, add_link, linked
from providers import AdapterStore, Agent, MediaInfo, ProviderContext, UnknownConversation
from providers.context import (
    AgentFile,
    AgentMessage,
    ClosingReport,
    StatusReport,
    TransferRequest,
    check_store_key,
)

MEDIA = table(Media)

if TYPE_CHECKING:
    from hub.agents.workspace import HubWorkspace
    from hub.clock import Clock
    from hub.conversation.service import ConversationService
    from hub.db import Database
    from hub.journal import Journal, Scope
    from hub.security.tokens import TokenSigner
    from hub.settings import Settings


def media_info(stored: Any) -> MediaInfo:
    return MediaInfo(
        stored.id, stored.name, stored.content_type, stored.size, f"/v1/media/{stored.id}"
    )


class HubProviderContext(ProviderContext):
    """One instance's door into the hub. It exists before the hub starts (adapters are
    built, and their routes mounted, by the app factory), so what the hub builds at start-up
    comes as callables that return it once it exists."""

    def __init__(
        self,
        instance: str,
        *,
        settings: Settings,
        clock: Clock,
        report: Callable[[bool, str], None],
        http: Callable[[], aiohttp.ClientSession],
        database: Callable[[], Database],
        journal: Callable[[], Journal],
        workspace: Callable[[], HubWorkspace],
        service: Callable[[], ConversationService],
        tokens: Callable[[], TokenSigner],
    ) -> None:
        self.instance = instance
        self.settings = settings
        self.clock = clock
        self.logger = logging.getLogger(f"offload_hub.providers.{instance}")
        self._report = report
        self._http = http
        self._database = database
        self._journal_of = journal
        self._workspace = workspace
        self._service = service
        self._tokens = tokens
        self._store: HubAdapterStore | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        return self._http()

    @property
    def workspace(self) -> HubWorkspace:
        return self._workspace()

    @property
    def database(self) -> Database:
        return self._database()

    @property
    def _journal(self) -> Journal:
        return self._journal_of()

    def url_for(self, path: str) -> str:
        return f"{self.settings.public_base_url}/providers/{self.instance}{path}"

    def report_health(self, ok: bool, detail: str = "") -> None:
        self._report(ok, detail)

    def _submit(self, unit: Any, conversation_id: str, **arguments: Any) -> asyncio.Future[Any]:
        """The report goes into the journal now; the future says when it is stored."""
        work: Any = partial(
            unit, instance=self.instance, conversation_id=conversation_id, **arguments
        )
        return self._journal.submit(work, conversations=(conversation_id,))

    def agent_joined(
        self, conversation_id: str, agent: Agent, *, event_id: str | None = None
    ) -> Awaitable[None]:
        return self._submit(
            agent_side.agent_joined, conversation_id, agent=agent, event_id=event_id
        )

    def agent_left(
        self, conversation_id: str, *, reason: str | None = None, event_id: str | None = None
    ) -> Awaitable[None]:
        return self._submit(
            agent_side.agent_left, conversation_id, reason=reason, event_id=event_id
        )

    def _agent_message(self, message: AgentMessage) -> Awaitable[str]:
        if message.media_id is not None:
            return self._agent_message_with_media(message, message.media_id)
        return self._submit(
            agent_side.agent_message,
            message.conversation_id,
            html=clean_html(message.html),
            agent=message.agent,
            event_id=message.event_id,
            media=None,
            record_if_ended=message.record_if_ended,
        )

    async def _agent_message_with_media(self, message: AgentMessage, media_id: str) -> str:
        conversation_id = message.conversation_id
        async with self.database.lookup() as conn:
            stored = await get_media(media_id, conn=conn)
        if stored is None or stored.conversation_id != conversation_id:
            raise UnknownConversation(f"media {media_id!r} is not of {conversation_id!r}")
        message_id: str = await self._submit(
            agent_side.agent_message,
            conversation_id,
            html=clean_html(message.html),
            agent=message.agent,
            event_id=message.event_id,
            media=media_info(stored),
            record_if_ended=message.record_if_ended,
        )
        return message_id

    def agent_typing(
        self, conversation_id: str, typing: bool, *, agent: Agent | None = None
    ) -> Awaitable[None]:
        ttl = timedelta(seconds=self.settings.lifecycle.agent_typing_seconds)
        return self._submit(
            agent_side.agent_typing, conversation_id, typing=typing, agent=agent, ttl=ttl
        )

    def agent_profile(
        self, conversation_id: str, agent: Agent, *, event_id: str | None = None
    ) -> Awaitable[None]:
        return self._submit(
            agent_side.agent_profile, conversation_id, agent=agent, event_id=event_id
        )

    def _message_status(self, report: StatusReport) -> Awaitable[None]:
        return self._submit(
            agent_side.message_status,
            report.conversation_id,
            message_id=report.message_id,
            status=report.status,
            event_id=report.event_id,
        )

    def queue_update(
        self, conversation_id: str, position: int | None, estimated_wait: float | None
    ) -> Awaitable[None]:
        return self._submit(
            agent_side.queue_update,
            conversation_id,
            position=position,
            estimated_wait=estimated_wait,
        )

    def _conversation_closed(self, report: ClosingReport) -> Awaitable[None]:
        return self._submit(
            agent_side.conversation_closed,
            report.conversation_id,
            reason=report.reason,
            event_id=report.event_id,
        )

    def ticket_created(
        self, conversation_id: str, ticket_id: str, *, event_id: str | None = None
    ) -> Awaitable[None]:
        return self._submit(
            agent_side.ticket_created, conversation_id, ticket_id=ticket_id, event_id=event_id
        )

    async def _store_media(self, file: AgentFile) -> MediaInfo:
        conversation_id, event_id = file.conversation_id, file.event_id

        async def known(scope: Scope) -> Any:
            return (
                await scope.conn.execute(
                    sa.select(MEDIA.c.id, MEDIA.c.name, MEDIA.c.content_type, MEDIA.c.size).where(
                        MEDIA.c.conversation_id == conversation_id,
                        MEDIA.c.source_event_id == event_id,
                    )
                )
            ).first()

        async def store(scope: Scope) -> dict[str, Any]:
            if event_id is not None and (first := await known(scope)) is not None:
                await agent_side.owned(scope, conversation_id, self.instance, ended_ok=True)
                return dict(first._mapping)
            await agent_side.owned(scope, conversation_id, self.instance)
            return await user_side.store_media(
                scope,
                conversation_id=conversation_id,
                uploader="agent",
                name=file.name,
                content_type=file.content_type,
                content=file.content,
                source_event_id=event_id,
            )

        row = await self._journal.run(store, conversations=(conversation_id,))
        return MediaInfo(
            row["id"], row["name"], row["content_type"], row["size"], f"/v1/media/{row['id']}"
        )

    def media_link(self, media_id: str, ttl: float = 3600.0) -> str:
        return media_links.media_link(
            self._tokens(), self.clock, self.settings.public_base_url, media_id, ttl
        )

    async def link(self, conversation_id: str, platform_id: str) -> None:
        check_store_key(platform_id, what="a platform id")

        async def work(scope: Scope) -> None:
            await agent_side.owned(scope, conversation_id, self.instance)
            linked_to = await add_link(
                self.instance, platform_id, conversation_id, conn=scope.conn, now=scope.now
            )
            if linked_to != conversation_id:
                raise ValueError(f"platform id {platform_id!r} is linked to another conversation")

        await self._journal.run(work, conversations=(conversation_id,), isolated=True)

    async def lookup(self, platform_id: str) -> str | None:
        return await linked(self.database, self.instance, platform_id)

    @property
    def store(self) -> AdapterStore:
        if self._store is None:
            self._store = HubAdapterStore(self.database, self._journal, self.instance)
        return self._store

    async def _request_transfer(self, transfer: TransferRequest) -> None:
        await self._service().move(
            transfer.conversation_id,
            instance=self.instance,
            queue=transfer.queue,
            agent_id=transfer.agent_id,
            next_step=transfer.next_step,
            event_id=transfer.event_id,
        )

    async def read_media(self, media_id: str) -> tuple[MediaInfo, bytes]:
        async with self.database.read() as conn:
            stored = await get_media(media_id, conn=conn, content=True)
            owner = None
            if stored is not None:
                conversation = await get_conversation(stored.conversation_id, conn=conn)
                owner = conversation.provider if conversation else None
        if stored is None or owner != self.instance:
            raise UnknownConversation(f"no file {media_id!r} in this instance's conversations")
        return media_info(stored), stored.content
