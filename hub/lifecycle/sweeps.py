"""The sweeps: each finds what is due, claims it, and acts on it, exactly once."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hub import actions
from hub.agents.presence import announce_presence
from hub.conversation import agent_side
from hub.conversation.delivery import stage_close
from hub.conversation.ending import end
from hub.journal import Scope
from hub.lifecycle.claims import NOW, anything_due, claim, due_conversations
from hub.lifecycle.waiting import WaitClocks
from hub.models import (
    AgentAccount,
    Conversation,
    DeskEntry,
    Event,
    IdempotencyKey,
    Media,
    Message,
    Note,
    Outbox,
    ProviderEvent,
    ProviderLink,
    table,
)
from hub.store.conversations import get_conversation
from providers import Capability, ConversationRef, SupportsQueuePosition

if TYPE_CHECKING:
    from hub.agents.workspace import HubWorkspace
    from hub.conversation.service import ConversationService
    from hub.db import Database
    from hub.journal import Journal
    from hub.outbox import Dispatcher
    from hub.plugins import ProviderHost
    from hub.routing import Router
    from hub.settings import Lifecycle as LifecycleSettings

log = logging.getLogger(__name__)

CONVERSATIONS = table(Conversation)
AGENTS = table(AgentAccount)
# A routing step taken over after a crash gets this long before it is taken over again.
GRACE = timedelta(seconds=60)
ROUTING_DEADLINES = ("route", "wait-limit", "no-agents", "moving")
# Deadlines of a conversation waiting at a step: when one passes, the step is passed.
PASSING = ("wait-limit", "no-agents")
# What each sweep asks before it opens a transaction (see ``anything_due``).
_AGENT_TYPING_DUE = due_conversations(CONVERSATIONS.c.agent_typing_until <= NOW)
_USER_TYPING_DUE = due_conversations(CONVERSATIONS.c.user_typing_until <= NOW)
_QUIET = due_conversations(CONVERSATIONS.c.status == "assigned", CONVERSATIONS.c.active_at <= NOW)
_ROUTING_DUE = due_conversations(
    CONVERSATIONS.c.deadline_at <= NOW, CONVERSATIONS.c.deadline_kind.in_(ROUTING_DEADLINES)
)
_SILENT_AGENTS = sa.select(AGENTS.c.id).where(
    AGENTS.c.presence != "offline",
    sa.or_(AGENTS.c.last_seen_at.is_(None), AGENTS.c.last_seen_at < NOW),
)

# Rows that point at a conversation, in the order they can be deleted.
DEPENDENTS = (
    Event,
    Message,
    Media,
    Note,
    DeskEntry,
    ProviderEvent,
    ProviderLink,
    IdempotencyKey,
    Outbox,
)


def _due(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now


class Lifecycle:
    """The hub's clocks. ``tick`` runs every deadline sweep once; the scheduler calls it
    every ``lifecycle.tick_seconds``, tests call it after moving their clock."""

    def __init__(
        self,
        settings: LifecycleSettings,
        *,
        database: Database,
        journal: Journal,
        dispatcher: Dispatcher,
        service: ConversationService,
        workspace: HubWorkspace,
        host: ProviderHost,
        router: Router,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.service = service
        self.database = database
        self.dispatcher = dispatcher
        self.workspace = workspace
        self.host = host
        self.waiting = WaitClocks(
            settings, database=database, journal=journal, service=service, router=router
        )
        # Set once the first pass after start-up is over: what came due while the hub
        # was down has then been acted on.
        self.caught_up = asyncio.Event()

    async def tick(self) -> dict[str, int]:
        """Every sweep once; what each one did."""
        try:
            return await self._tick()
        finally:
            self.caught_up.set()

    async def _tick(self) -> dict[str, int]:
        done = {
            "agent_typing": await self.expire_agent_typing(),
            "user_typing": await self.expire_user_typing(),
            "idle": await self.idle(),
            "waiting": await self.waiting.sweep(),
            "routing": await self.routing_deadlines(),
            "presence": await self.presence(),
            "offers": await self.offers(),
        }
        if any(done.values()):
            log.debug("lifecycle tick: %s", done)
        return done

    def _now(self) -> datetime:
        return self.journal.clock.now()

    async def _due(self, query: sa.Select[Any], now: datetime) -> bool:
        return await anything_due(self.database, query, now=now)

    # -- typing ------------------------------------------------------------------------------

    async def expire_agent_typing(self) -> int:
        """An agent's typing that was not refreshed ends: the chatbot hides the indicator."""
        if not await self._due(_AGENT_TYPING_DUE, self._now()):
            return 0

        async def work(scope: Scope) -> int:
            ids = await claim(scope, _AGENT_TYPING_DUE.params(now=scope.now))
            done = 0
            for conversation in await scope.conversations(ids):
                if _due(conversation["agent_typing_until"], scope.now):
                    agent_side.stop_typing(scope, conversation)
                    done += 1
            return done

        return await self.journal.run(work)

    async def expire_user_typing(self) -> int:
        """The user's typing that was not refreshed ends: the provider is told."""
        if not await self._due(_USER_TYPING_DUE, self._now()):
            return 0

        async def work(scope: Scope) -> list[str]:
            ids = await claim(scope, _USER_TYPING_DUE.params(now=scope.now))
            expired = []
            for conversation in await scope.conversations(ids):
                if _due(conversation["user_typing_until"], scope.now):
                    conversation.set(user_typing_until=None)
                    expired.append(conversation.id)
            return expired

        ids = await self.journal.run(work)
        for conversation_id in ids:
            async with self.database.read() as conn:
                conversation = await get_conversation(conversation_id, conn=conn)
            if conversation is not None and conversation.status in ("queued", "assigned"):
                await self.service.tell_typing(conversation, False)
        return len(ids)

    # -- idle chats --------------------------------------------------------------------------

    async def idle(self) -> int:
        """A chat with no message for ``idle_warning_seconds`` gets a warning; after
        ``idle_close_seconds`` more without one it ends and returns to the bot."""
        warn_after = self.settings.idle_warning_seconds
        close_after = self.settings.idle_close_seconds
        if warn_after <= 0:
            return 0
        quiet_since = self._now() - timedelta(seconds=warn_after)
        if not await self._due(_QUIET, quiet_since):
            return 0
        dispatcher = self.dispatcher

        async def work(scope: Scope) -> int:
            now = scope.now
            warn_before = now - timedelta(seconds=warn_after)
            close_before = now - timedelta(seconds=warn_after + close_after)
            # With no time after the warning there is no warning: the chat just ends.
            warns = close_after > 0
            assigned = CONVERSATIONS.c.status == "assigned"
            close_query = due_conversations(assigned, CONVERSATIONS.c.active_at <= close_before)
            if warns:
                close_query = close_query.where(CONVERSATIONS.c.idle_warned.is_(True))
            candidates = await claim(scope, close_query)
            if warns:
                candidates += await claim(
                    scope,
                    due_conversations(
                        assigned,
                        CONVERSATIONS.c.idle_warned.is_(False),
                        CONVERSATIONS.c.active_at <= warn_before,
                    ),
                )
            acted = 0
            for conversation in await scope.conversations(candidates):
                if conversation["status"] != "assigned":
                    continue  # an earlier unit of this batch ended it
                if (conversation["idle_warned"] or not warns) and _due(
                    conversation["active_at"], close_before
                ):
                    instance = conversation["provider"]
                    end(scope, conversation, reason="idle", by="hub", announce=True)
                    if instance is not None:
                        stage_close(
                            scope,
                            conversation,
                            instance=instance,
                            reason="idle",
                            by="hub",
                            dispatcher=dispatcher,
                        )
                    acted += 1
                elif (
                    warns
                    and not conversation["idle_warned"]
                    and _due(conversation["active_at"], warn_before)
                ):
                    conversation.set(idle_warned=True)
                    scope.emit(
                        conversation,
                        *actions.system_message(
                            "idle-warning", minutes=math.ceil(close_after / 60)
                        ),
                    )
                    acted += 1
            return acted

        return await self.journal.run(work)

    # -- routing: wait limits, and routing a crash interrupted ---------------------------------

    async def routing_deadlines(self) -> int:
        """A conversation still queued when its step's wait limit passes, or that nobody
        could take for ``no_agents_seconds``, moves to the next step (the old provider
        withdraws it; the user is told); routing interrupted by a crash resumes."""
        if not await self._due(_ROUTING_DUE, self._now()):
            return 0
        dispatcher = self.dispatcher

        async def work(scope: Scope) -> list[tuple[str, int, tuple[str, ...], bool]]:
            now = scope.now
            ids = await claim(scope, _ROUTING_DUE.params(now=now))
            todo: list[tuple[str, int, tuple[str, ...], bool]] = []
            for conversation in await scope.conversations(ids):
                kind = conversation["deadline_kind"]
                if kind not in ROUTING_DEADLINES or not _due(conversation["deadline_at"], now):
                    continue  # an earlier unit of this batch took it
                if not conversation.is_open or (
                    kind in PASSING and conversation["status"] != "queued"
                ):
                    conversation.set(deadline_at=None, deadline_kind=None)
                    continue
                step = conversation["chain_step"]
                if kind in PASSING:
                    if conversation["provider"] is not None:
                        stage_close(
                            scope,
                            conversation,
                            instance=conversation["provider"],
                            reason=kind,
                            by="hub",
                            dispatcher=dispatcher,
                        )
                    conversation.set(deadline_kind="moving", unattended_since=None)
                conversation.set(deadline_at=now + GRACE)
                if kind == "route":
                    todo.append((conversation.id, step, (), False))
                else:
                    todo.append((conversation.id, step + 1, ("no-agents",), kind in PASSING))
            return todo

        todo = await self.journal.run(work)
        for conversation_id, start, reasons, moved in todo:
            try:
                await self.service.route(conversation_id, start, skipped=reasons, moved=moved)
            except Exception:
                log.exception("routing %s from step %d failed", conversation_id, start)
        return len(todo)

    # -- offers --------------------------------------------------------------------------------

    async def offers(self) -> int:
        """Offers not accepted in time go to the next agent (each desk has its timeout)."""
        done = 0
        for desk in list(self.workspace.desks.values()):
            try:
                done += await desk.expire_offers()
            except Exception:
                log.exception("desk %s failed to expire its offers", desk.instance)
        return done

    # -- presence ------------------------------------------------------------------------------

    async def presence(self) -> int:
        """An agent whose dashboard stopped heartbeating goes offline: their offers and
        their chats go back to the queue (nobody would answer them there)."""
        timeout = self.settings.presence_timeout_seconds
        if timeout <= 0:
            return 0
        silent = self._now() - timedelta(seconds=timeout)
        if not await self._due(_SILENT_AGENTS, silent):
            return 0

        async def work(scope: Scope) -> list[str]:
            cutoff = scope.now - timedelta(seconds=timeout)
            rows = await scope.conn.execute(
                sa.update(AGENTS)
                .where(
                    AGENTS.c.presence != "offline",
                    sa.or_(AGENTS.c.last_seen_at.is_(None), AGENTS.c.last_seen_at < cutoff),
                )
                .values(presence="offline", updated_at=scope.now)
                .returning(AGENTS.c.id)
            )
            return [row.id for row in rows]

        gone = await self.journal.run(work, isolated=True)
        for agent_id in gone:
            log.info("agent %s went offline: no heartbeat for %gs", agent_id, timeout)
            await announce_presence(self.workspace, agent_id, "offline", vanished=True)
        return len(gone)

    # -- queue positions -----------------------------------------------------------------------

    async def refresh_positions(self) -> int:
        """Ask providers that know queue positions where each waiting conversation stands;
        the chatbot hears only what changed."""
        told = 0
        host = self.host
        for instance in host:
            provider = instance.provider
            if (
                not instance.usable
                or provider is None
                or not provider.supports(Capability.QUEUE_POSITION)
                or not isinstance(provider, SupportsQueuePosition)
            ):
                continue
            async with self.database.read() as conn:
                rows = list(
                    await conn.execute(
                        sa.select(CONVERSATIONS.c.id, CONVERSATIONS.c.provider_ref).where(
                            CONVERSATIONS.c.provider == instance.name,
                            CONVERSATIONS.c.status == "queued",
                            CONVERSATIONS.c.provider_ref.is_not(None),
                        )
                    )
                )
            for row in rows:
                try:
                    position, wait = await asyncio.wait_for(
                        provider.queue_position(ConversationRef(row.id, row.provider_ref)),
                        host.call_timeout,
                    )
                    await provider.context.queue_update(row.id, position, wait)
                    told += 1
                except Exception:
                    log.warning(
                        "queue position of %s from %s failed", row.id, instance.name, exc_info=True
                    )
        return told

    # -- retention -----------------------------------------------------------------------------

    async def purge(self) -> int:
        """Delete ended conversations older than ``retention_days`` (transcript, messages,
        files, events and all), in batches; the count goes to the log."""
        days = self.settings.retention_days
        if days <= 0:
            return 0
        batch = self.settings.retention_batch
        total = 0

        async def work(scope: Scope) -> int:
            cutoff = scope.now - timedelta(days=days)
            ids = await claim(
                scope,
                due_conversations(
                    CONVERSATIONS.c.status.in_(("ended", "ticket")),
                    CONVERSATIONS.c.ended_at < cutoff,
                ),
                limit=batch,
            )
            if ids:
                for model in DEPENDENTS:
                    dependent: Any = table(model)
                    await scope.conn.execute(
                        sa.delete(dependent).where(dependent.c.conversation_id.in_(ids))
                    )
                await scope.conn.execute(
                    sa.delete(CONVERSATIONS).where(CONVERSATIONS.c.id.in_(ids))
                )
            return len(ids)

        while True:
            purged = await self.journal.run(work, isolated=True)
            total += purged
            if purged < batch:
                break
        if total:
            log.info("retention: purged %d conversations ended more than %g days ago", total, days)
        return total
