"""Live failover: a conversation whose provider cannot be reached moves along its chain.

A provider that stays unreachable past the retry budget of a user message (or is reported
unhealthy while one waits) loses the conversation. In one transaction the agent leaves
(the chatbot sees ``agent-left``, the default name and icon, the new state), the provider
is told to close its side (an outbox row, tried until it answers or the budget is spent),
and the conversation is marked ``moving``. Once that is committed, the chain is walked on
from the next step, and whatever that step does is what the user sees next: the queue,
an agent joining, a ticket, or ``no-agents`` and the return to the bot. Messages the old
provider never took go to the next live provider; on a ticket or the end they show
``ERROR_TICK``. If the hub stops before the walk finishes, the lifecycle's ``moving``
deadline resumes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import sqlalchemy as sa

from hub import actions
from hub.conversation import ticks
from hub.journal import ConversationState, Scope
from hub.models import Message, Outbox, table
from hub.outbox import Dispatcher, stage

log = logging.getLogger(__name__)

MESSAGES = table(Message)
OUTBOX = table(Outbox)
# If the walk after a failover does not finish (the process died), the lifecycle takes
# the conversation over after this long.
GRACE = timedelta(seconds=60)
HELD = ("stored", "waiting")

Reroute = Callable[[str, int], Awaitable[None]]


class Failover:
    """Walks the chain on after a failover, in tasks of its own that end with the hub."""

    def __init__(self) -> None:
        self.reroute: Reroute | None = None  # ConversationService.route, once it exists
        self._tasks: set[asyncio.Task[None]] = set()

    def kick(self, conversation_id: str, start: int) -> None:
        task = asyncio.create_task(self._walk(conversation_id, start), name="failover")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _walk(self, conversation_id: str, start: int) -> None:
        if self.reroute is None:
            return  # the lifecycle's deadline takes it
        try:
            await self.reroute(conversation_id, start)
        except Exception:
            log.exception("routing %s on from step %d failed", conversation_id, start)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def move_on(
    scope: Scope,
    conversation: ConversationState,
    *,
    instance: str,
    dispatcher: Dispatcher | None,
    failover: Failover | None,
    reason: str = "failover",
) -> None:
    """Take the conversation from ``instance``; with ``failover``, hand it to the next step
    of its chain once committed (a transfer routes it itself)."""
    if conversation["agent_typing_until"] is not None:
        conversation.set(agent_typing_until=None)
        scope.emit(conversation, *actions.stop_typing())
    if conversation["agent_id"] is not None:
        scope.emit(
            conversation,
            *actions.system_message("agent-left", agentName=conversation["agent_name"]),
        )
        scope.emit_all(conversation, [actions.set_name(None), actions.set_icon(None)])
    step = conversation["chain_step"]
    conversation.set(
        status="queued",
        owner="hub",
        provider=None,
        provider_ref=None,
        agent_id=None,
        agent_name=None,
        agent_icon=None,
        active_at=None,
        idle_warned=False,
        position=None,
        estimated_wait=None,
        deadline_kind="moving",
        deadline_at=scope.now + GRACE,
    )
    scope.emit_all(conversation, [actions.external_info(conversation.row)])
    lane = f"provider:{instance}"
    # What was still to go to the old provider goes to the next one instead.
    scope.stage(
        sa.update(OUTBOX)
        .where(
            OUTBOX.c.target == lane,
            OUTBOX.c.conversation_id == conversation.id,
            OUTBOX.c.kind.in_(("deliver", "read")),
            OUTBOX.c.status == "pending",
        )
        .values(status="dead", last_error="the conversation moved on", done_at=scope.now)
    )
    stage(
        scope,
        target=lane,
        kind="close",
        conversation_id=conversation.id,
        payload={"reason": reason, "by": "hub"},
        dispatcher=dispatcher,
    )
    if failover is not None:
        scope.after_commit(lambda: failover.kick(conversation.id, step + 1))


async def fail_held(scope: Scope, conversation: ConversationState) -> None:
    """Messages no provider took before the chat ended (or became a ticket): ERROR_TICK."""
    held = await scope.conn.scalars(
        sa.select(MESSAGES.c.id)
        .where(
            MESSAGES.c.conversation_id == conversation.id,
            MESSAGES.c.author == "user",
            MESSAGES.c.status.in_(HELD),
        )
        .order_by(MESSAGES.c.seq)
    )
    for message_id in list(held):
        await ticks.advance(scope, conversation, message_id, "failed")
