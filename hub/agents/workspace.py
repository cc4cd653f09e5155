"""The hub's side of the agent workspace (see :mod:`providers.workspace`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Unpack

import sqlalchemy as sa

from hub.agents.live import LiveChannel
from hub.conversation import agent_side
from hub.db import Database
from hub.journal import Journal, Scope
from hub.lifecycle.claims import anything_due, claim
from hub.models import AgentAccount, Conversation, DeskEntry, table
from providers import Agent
from providers.workspace import Desk, DeskAgent, Needs, Requeue, Waiting, Workspace

log = logging.getLogger(__name__)

AGENTS = table(AgentAccount)
CONVERSATIONS = table(Conversation)
DESK = table(DeskEntry)
WAIT_SAMPLE = 20
_HOLDER = sa.select(CONVERSATIONS.c.agent_id, CONVERSATIONS.c.status).where(
    CONVERSATIONS.c.id == sa.bindparam("id")
)
# Offers of a desk made before a time (asked every tick, before any transaction).
_OFFERED_BEFORE = (
    sa.select(DESK.c.conversation_id)
    .where(DESK.c.instance == sa.bindparam("instance"), DESK.c.offered_at < sa.bindparam("cutoff"))
    .order_by(DESK.c.conversation_id)
)
# A desk's waiting list: read on every dispatch (each escalation, each lifecycle tick).
_WAITING = (
    sa.select(DESK)
    .join(CONVERSATIONS, CONVERSATIONS.c.id == DESK.c.conversation_id)
    .where(DESK.c.instance == sa.bindparam("instance"), CONVERSATIONS.c.status == "queued")
    .order_by(DESK.c.queued_at, DESK.c.conversation_id)
)


def _desk_agent(row: Any, active: int, offered: int) -> DeskAgent:
    return DeskAgent(
        id=row.id,
        name=row.display_name,
        icon_url=row.avatar_url,
        role=row.role,
        presence=row.presence,
        max_chats=row.max_chats,
        skills=frozenset(row.skills),
        languages=frozenset(row.languages),
        active=int(active),
        offered=int(offered),
    )


def desk_audience(instance: str) -> str:
    return f"desk:{instance}"


def watch_audience(conversation_id: str) -> str:
    """The admins watching a conversation in the dashboard (the desk publishes there)."""
    return f"watch:{conversation_id}"


class HubWorkspace(Workspace):
    def __init__(self, database: Database, journal: Journal, live: LiveChannel) -> None:
        self.database = database
        self.journal = journal
        self.live = live
        self.desks: dict[str, Desk] = {}
        self._one_agent: tuple[tuple[str, ...], sa.Select[Any]] | None = None

    def register_desk(self, desk: Desk) -> None:
        self.desks[desk.instance] = desk

    def desk_for(self, instance: str | None) -> Desk | None:
        return self.desks.get(instance) if instance else None

    def notify(self, audience: str, event: dict[str, Any]) -> None:
        self.live.publish(audience, event)

    # -- agents ------------------------------------------------------------------------------

    def _one_agent_query(self) -> sa.Select[Any]:
        """One agent (an action of theirs, at every message) with how many chats they hold
        at the desks and how many offers they have: one statement, one trip to the
        database, built once per set of desks and bound by ``agent_id``; its ``holder``
        is the agent the conversation ``conversation_id`` (None: none) is assigned to."""
        desks = tuple(self.desks) or ("-",)
        if self._one_agent is not None and self._one_agent[0] == desks:
            return self._one_agent[1]
        one: sa.BindParameter[str] = sa.bindparam("agent_id")
        active = (
            sa.select(sa.func.count())
            .select_from(CONVERSATIONS)
            .where(
                CONVERSATIONS.c.agent_id == one,
                CONVERSATIONS.c.status == "assigned",
                CONVERSATIONS.c.provider.in_(desks),
            )
            .scalar_subquery()
        )
        offered = (
            sa.select(sa.func.count()).select_from(DESK).where(DESK.c.offered_to == one)
        ).scalar_subquery()
        holder = (
            sa.select(CONVERSATIONS.c.agent_id)
            .where(
                CONVERSATIONS.c.id == sa.bindparam("conversation_id"),
                CONVERSATIONS.c.status == "assigned",
            )
            .scalar_subquery()
        )
        query = sa.select(
            AGENTS, active.label("active"), offered.label("offered"), holder.label("holder")
        ).where(AGENTS.c.id == one, AGENTS.c.disabled.is_(False))
        self._one_agent = (desks, query)
        return query

    async def agents(self) -> list[DeskAgent]:
        """The agents who are not disabled, with their load."""
        desks = tuple(self.desks) or ("-",)
        async with self.database.read() as conn:
            rows = list(
                await conn.execute(
                    sa.select(AGENTS)
                    .where(AGENTS.c.disabled.is_(False))
                    .order_by(AGENTS.c.display_name)
                )
            )
            active = dict(
                (
                    await conn.execute(
                        sa.select(CONVERSATIONS.c.agent_id, sa.func.count())
                        .where(
                            CONVERSATIONS.c.status == "assigned",
                            CONVERSATIONS.c.provider.in_(desks),
                        )
                        .group_by(CONVERSATIONS.c.agent_id)
                    )
                )
                .tuples()
                .all()
            )
            offered = dict(
                (
                    await conn.execute(
                        sa.select(DESK.c.offered_to, sa.func.count())
                        .where(DESK.c.offered_to.is_not(None))
                        .group_by(DESK.c.offered_to)
                    )
                )
                .tuples()
                .all()
            )
        return [_desk_agent(row, active.get(row.id, 0), offered.get(row.id, 0)) for row in rows]

    async def _one_agent_row(self, agent_id: str, conversation_id: str | None) -> Any:
        bound = {"agent_id": agent_id, "conversation_id": conversation_id}
        async with self.database.lookup() as conn:
            return (await conn.execute(self._one_agent_query(), bound)).first()

    async def agent(self, agent_id: str) -> DeskAgent | None:
        found = await self._one_agent_row(agent_id, None)
        return None if found is None else _desk_agent(found, found.active, found.offered)

    async def agent_in_chat(
        self, agent_id: str, conversation_id: str
    ) -> tuple[DeskAgent | None, bool]:
        found = await self._one_agent_row(agent_id, conversation_id)
        if found is None:
            return None, False
        return _desk_agent(found, found.active, found.offered), found.holder == agent_id

    async def holder(self, conversation_id: str, *, ended_ok: bool = False) -> str | None:
        async with self.database.lookup() as conn:
            row = (await conn.execute(_HOLDER, {"id": conversation_id})).first()
        if row is None or not (row.status == "assigned" or ended_ok):
            return None
        agent_id: str = row.agent_id
        return agent_id

    async def assigned(self, instance: str, agent_id: str) -> list[str]:
        query = sa.select(CONVERSATIONS.c.id).where(
            CONVERSATIONS.c.provider == instance,
            CONVERSATIONS.c.status == "assigned",
            CONVERSATIONS.c.agent_id == agent_id,
        )
        async with self.database.read() as conn:
            return list(await conn.scalars(query.order_by(CONVERSATIONS.c.assigned_at)))

    # -- the waiting list --------------------------------------------------------------------

    async def waiting(self, instance: str) -> list[Waiting]:
        now = self.journal.clock.now()
        # A lookup: the list holds only the conversations waiting now, found by index.
        async with self.database.lookup() as conn:
            rows = await conn.execute(_WAITING, {"instance": instance})
            return [
                Waiting(
                    conversation_id=row.conversation_id,
                    queue=row.queue,
                    language=row.language,
                    skills=tuple(row.skills),
                    queued_at=row.queued_at,
                    offered_to=row.offered_to,
                    passed_by=_still_passed(row.passed, now),
                )
                for row in rows
            ]

    async def enqueue(self, instance: str, conversation_id: str, **needs: Unpack[Needs]) -> None:
        async def work(scope: Scope) -> None:
            exists = await scope.conn.scalar(
                sa.select(sa.literal(1)).where(DESK.c.conversation_id == conversation_id)
            )
            if not exists:
                await scope.conn.execute(
                    sa.insert(DESK).values(
                        conversation_id=conversation_id,
                        instance=instance,
                        queue=needs["queue"],
                        language=needs["language"],
                        skills=list(needs["skills"]),
                        queued_at=scope.now,
                        offered_to=None,
                        offered_at=None,
                        passed={},
                    )
                )

        await self.journal.run(work, isolated=True)

    async def offer(self, conversation_id: str, agent_id: str | None) -> bool:
        async def work(scope: Scope) -> bool:
            result = await scope.conn.execute(
                sa.update(DESK)
                .where(DESK.c.conversation_id == conversation_id)
                .values(offered_to=agent_id, offered_at=scope.now if agent_id else None)
            )
            return bool(result.rowcount)

        return await self.journal.run(work, isolated=True)

    async def withdraw_offers(self, agent_id: str) -> list[str]:
        async def work(scope: Scope) -> list[str]:
            rows = await scope.conn.execute(
                sa.update(DESK)
                .where(DESK.c.offered_to == agent_id)
                .values(offered_to=None, offered_at=None)
                .returning(DESK.c.conversation_id)
            )
            return [row.conversation_id for row in rows]

        return await self.journal.run(work, isolated=True)

    async def expire_offers(
        self, instance: str, *, older_than: float, pass_for: float
    ) -> list[tuple[str, str]]:
        now = self.journal.clock.now()
        if not await anything_due(
            self.database,
            _OFFERED_BEFORE,
            instance=instance,
            cutoff=now - timedelta(seconds=older_than),
        ):
            return []

        async def work(scope: Scope) -> list[tuple[str, str]]:
            cutoff = scope.now - timedelta(seconds=older_than)
            ids = await claim(scope, _OFFERED_BEFORE.params(instance=instance, cutoff=cutoff))
            if not ids:
                return []
            rows = await scope.conn.execute(
                sa.select(DESK.c.conversation_id, DESK.c.offered_to, DESK.c.passed).where(
                    DESK.c.conversation_id.in_(ids), DESK.c.offered_at < cutoff
                )
            )
            expired = []
            for row in list(rows):
                passed = _still_passed_until(row.passed, scope.now)
                if row.offered_to is not None and pass_for > 0:
                    passed[row.offered_to] = _iso(scope.now + timedelta(seconds=pass_for))
                await scope.conn.execute(
                    sa.update(DESK)
                    .where(DESK.c.conversation_id == row.conversation_id)
                    .values(offered_to=None, offered_at=None, passed=passed)
                )
                if row.offered_to is not None:
                    expired.append((row.conversation_id, row.offered_to))
            return expired

        return await self.journal.run(work, isolated=True)

    async def assign(
        self, instance: str, conversation_id: str, agent: Agent, *, offered_only: bool
    ) -> bool:
        async def work(scope: Scope) -> bool:
            conversation = await agent_side.owned(scope, conversation_id, instance)
            if conversation["agent_id"] == agent.id:
                return True
            claim = sa.delete(DESK).where(
                DESK.c.conversation_id == conversation_id, DESK.c.instance == instance
            )
            if offered_only:
                claim = claim.where(
                    sa.or_(DESK.c.offered_to.is_(None), DESK.c.offered_to == agent.id)
                )
            claimed = (await scope.conn.execute(claim.returning(DESK.c.queued_at))).first()
            if claimed is None:
                return False  # someone else took it, or it is offered to someone else
            agent_side.join(scope, conversation, agent)
            return True

        return await self.journal.run(work, conversations=(conversation_id,), isolated=True)

    async def hand_over(self, instance: str, conversation_id: str, agent: Agent) -> None:
        async def work(scope: Scope) -> None:
            conversation = await agent_side.owned(scope, conversation_id, instance)
            await scope.conn.execute(
                sa.delete(DESK).where(DESK.c.conversation_id == conversation_id)
            )
            agent_side.join(scope, conversation, agent)

        await self.journal.run(work, conversations=(conversation_id,), isolated=True)

    async def requeue(
        self, instance: str, conversation_id: str, **options: Unpack[Requeue]
    ) -> None:
        queue, skills = options["queue"], options["skills"]
        passed_by, pass_for = options.get("passed_by"), options.get("pass_for", 0.0)

        async def work(scope: Scope) -> None:
            conversation = await agent_side.owned(scope, conversation_id, instance)
            agent_side.leave(scope, conversation)
            passed = {}
            if passed_by is not None and pass_for > 0:
                passed[passed_by] = _iso(scope.now + timedelta(seconds=pass_for))
            await scope.conn.execute(
                sa.delete(DESK).where(DESK.c.conversation_id == conversation_id)
            )
            await scope.conn.execute(
                sa.insert(DESK).values(
                    conversation_id=conversation_id,
                    instance=instance,
                    queue=queue or conversation["queue"],
                    language=conversation["language"],
                    skills=list(skills if skills is not None else conversation["skills"]),
                    # Back at the front: it has waited since the escalation.
                    queued_at=conversation["created_at"],
                    offered_to=None,
                    offered_at=None,
                    passed=passed,
                )
            )

        await self.journal.run(work, conversations=(conversation_id,), isolated=True)

    async def drop(self, conversation_id: str) -> None:
        async def work(scope: Scope) -> None:
            await scope.conn.execute(
                sa.delete(DESK).where(DESK.c.conversation_id == conversation_id)
            )

        await self.journal.run(work, isolated=True)

    async def average_wait(self, queue: str) -> float | None:
        query = (
            sa.select(CONVERSATIONS.c.created_at, CONVERSATIONS.c.assigned_at)
            .where(CONVERSATIONS.c.queue == queue, CONVERSATIONS.c.assigned_at.is_not(None))
            .order_by(CONVERSATIONS.c.assigned_at.desc())
            .limit(WAIT_SAMPLE)
        )
        async with self.database.read() as conn:
            rows = list(await conn.execute(query))
        if not rows:
            return None
        waited: float = sum((r.assigned_at - r.created_at).total_seconds() for r in rows)
        return waited / len(rows)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _still_passed_until(passed: dict[str, str] | None, now: datetime) -> dict[str, str]:
    """The passes that have not ended yet."""
    return {
        agent: until
        for agent, until in (passed or {}).items()
        if datetime.fromisoformat(until) > now
    }


def _still_passed(passed: dict[str, str] | None, now: datetime) -> frozenset[str]:
    return frozenset(_still_passed_until(passed, now))
