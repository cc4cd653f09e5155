"""Nobody waits forever: the clocks of queued conversations.

Every conversation waiting at a step of its chain has a way out:

- its step's wait limit (the step's ``wait_limit``, or ``lifecycle.wait_limit_seconds``)
  is a deadline from the moment it is queued there, and again from the moment it is put
  back in the queue (an agent sends it back, leaves, or vanishes);
- a step where nobody who could take it is available (the provider's availability says
  not open: at the desk, no agent online with its language and skills) is passed once
  that has lasted ``lifecycle.no_agents_seconds``.

Either way the deadline sweep (:meth:`Lifecycle.routing_deadlines`) moves it down its
chain: the user hears ``no-agents`` and what the next step does; with no step left it
returns to the bot with ``no-agents``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from hub.journal import Journal, Scope
from hub.lifecycle.claims import anything_due, claim, due_conversations
from hub.models import Conversation, table
from hub.settings import ChainStep
from providers import AvailabilityRequest

if TYPE_CHECKING:
    from hub.conversation.service import ConversationService
    from hub.db import Database
    from hub.routing import Router
    from hub.settings import Lifecycle

log = logging.getLogger(__name__)

CONVERSATIONS = table(Conversation)
# How often, at most, providers are asked whether anyone could take the waiting ones.
CHECK_EVERY_SECONDS = 5.0
# Queued conversations put back in the queue (no deadline): asked about every tick.
_REQUEUED = due_conversations(
    CONVERSATIONS.c.status == "queued",
    CONVERSATIONS.c.provider.is_not(None),
    CONVERSATIONS.c.deadline_at.is_(None),
)
# The deadlines a waiting conversation may carry while it waits (others are routing).
WAITING_KINDS = (None, "wait-limit")

Group = tuple[str, str, str | None, tuple[str, ...], str]


# The conversations whose no-agents clock is watched (read every ``check_every`` seconds).
_WAITING = sa.select(
    CONVERSATIONS.c.id,
    CONVERSATIONS.c.provider,
    CONVERSATIONS.c.queue,
    CONVERSATIONS.c.language,
    CONVERSATIONS.c.skills,
    CONVERSATIONS.c.bot_id,
    CONVERSATIONS.c.unattended_since,
).where(
    CONVERSATIONS.c.status == "queued",
    CONVERSATIONS.c.provider.is_not(None),
    sa.or_(CONVERSATIONS.c.deadline_kind.is_(None), CONVERSATIONS.c.deadline_kind == "wait-limit"),
)


class WaitClocks:
    def __init__(
        self,
        settings: Lifecycle,
        *,
        database: Database,
        journal: Journal,
        service: ConversationService,
        router: Router,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.database = database
        self.service = service
        self.router = router
        self._checked_at: datetime | None = None

    @property
    def check_every(self) -> float:
        return min(CHECK_EVERY_SECONDS, self.settings.no_agents_seconds / 4)

    async def sweep(self) -> int:
        """Both clocks once: wait limits for the requeued, the unattended looked at (at
        most every ``check_every`` seconds: it asks the providers)."""
        done = await self.limit_requeued()
        now = self.journal.clock.now()
        if self._checked_at is None or (now - self._checked_at).total_seconds() >= (
            self.check_every
        ):
            self._checked_at = now
            done += await self.watch_unattended()
        return done

    def _step(self, queue_name: str, step: int, after_hours: bool) -> ChainStep | None:
        queue = self.router.get(queue_name)
        if queue is None:
            return None
        chain = queue.out_of_hours if after_hours else queue.chain
        return chain[step] if 0 <= step < len(chain) else None

    async def limit_requeued(self) -> int:
        """A queued conversation without a deadline (put back in the queue) gets its
        step's wait limit again, from now, and a new no-agents clock."""
        if not await anything_due(self.database, _REQUEUED):
            return 0

        async def work(scope: Scope) -> int:
            ids = await claim(scope, _REQUEUED)
            limited = 0
            for conversation in await scope.conversations(ids):
                if (
                    conversation["status"] != "queued"
                    or conversation["provider"] is None
                    or conversation["deadline_at"] is not None
                ):
                    continue
                step = self._step(
                    conversation["queue"], conversation["chain_step"], conversation["after_hours"]
                )
                limit = (
                    self.settings.wait_limit(step)
                    if step is not None
                    else self.settings.wait_limit_seconds
                )
                conversation.set(
                    deadline_at=scope.now + timedelta(seconds=limit),
                    deadline_kind="wait-limit",
                    unattended_since=None,
                )
                limited += 1
            return limited

        return await self.journal.run(work)

    async def watch_unattended(self) -> int:
        """Start, stop or act on each waiting conversation's no-agents clock; returns how
        many are passed on now."""
        async with self.database.read() as conn:
            rows = list(await conn.execute(_WAITING))
        verdicts: dict[str, bool] = {}
        answers: dict[Group, bool | None] = {}
        for row in rows:
            group: Group = (
                row.provider,
                row.queue,
                row.language,
                tuple(row.skills or ()),
                row.bot_id,
            )
            if group not in answers:
                request = AvailabilityRequest(
                    queue=row.queue, language=row.language, skills=group[3], bot_id=row.bot_id
                )
                answers[group] = await self.service.someone_available(row.provider, request)
            answer = answers[group]
            if answer is not None:
                verdicts[row.id] = answer
        if not verdicts:
            return 0
        no_agents = timedelta(seconds=self.settings.no_agents_seconds)

        async def work(scope: Scope) -> list[str]:
            c = CONVERSATIONS.c
            ids = await claim(scope, due_conversations(c.id.in_(list(verdicts))))
            passed = []
            for conversation in await scope.conversations(ids):
                if (
                    conversation["status"] != "queued"
                    or conversation["deadline_kind"] not in WAITING_KINDS
                ):
                    continue
                since = conversation["unattended_since"]
                if verdicts[conversation.id]:
                    conversation.set(unattended_since=None)
                elif since is None:
                    conversation.set(unattended_since=scope.now)
                elif scope.now - since >= no_agents:
                    # Passed as a wait limit is: the routing sweep moves it on.
                    conversation.set(deadline_at=scope.now, deadline_kind="no-agents")
                    passed.append(conversation.id)
            return passed

        passed = await self.journal.run(work)
        for conversation_id in passed:
            log.info(
                "conversation %s moves on: nobody could take it for %gs",
                conversation_id,
                self.settings.no_agents_seconds,
            )
        return len(passed)
