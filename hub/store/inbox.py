"""The desk's inbox: conversations waiting at desk instances, and those an agent holds."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import Conversation, DeskEntry, Message, table

CONVERSATIONS = table(Conversation)
DESK = table(DeskEntry)
MESSAGES = table(Message)


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One line of an agent's inbox."""

    id: str
    instance: str
    status: str
    queue: str
    language: str | None
    inquiry: str
    user: dict[str, Any]
    since: datetime  # waiting: when it joined the desk; held: when it was escalated
    offered_to: str | None = None
    unread: int = 0
    end_reason: str | None = None
    rating: str | None = None


def _unread() -> sa.ScalarSelect[Any]:
    """The user messages of a conversation the agent has not read yet."""
    return (
        sa.select(sa.func.count())
        .where(
            MESSAGES.c.conversation_id == CONVERSATIONS.c.id,
            MESSAGES.c.author == "user",
            MESSAGES.c.status != "read",
        )
        .scalar_subquery()
    )


async def waiting_at(instances: Collection[str], *, conn: AsyncConnection) -> list[InboxItem]:
    """The conversations waiting at these desk instances, oldest first."""
    if not instances:
        return []
    query = (
        sa.select(
            DESK.c.conversation_id,
            DESK.c.instance,
            DESK.c.queue,
            DESK.c.language,
            DESK.c.queued_at,
            DESK.c.offered_to,
            CONVERSATIONS.c.inquiry,
            CONVERSATIONS.c.user_info,
        )
        .join(CONVERSATIONS, CONVERSATIONS.c.id == DESK.c.conversation_id)
        .where(DESK.c.instance.in_(list(instances)), CONVERSATIONS.c.status == "queued")
        .order_by(DESK.c.queued_at, DESK.c.conversation_id)
    )
    return [
        InboxItem(
            id=row.conversation_id,
            instance=row.instance,
            status="queued",
            queue=row.queue,
            language=row.language,
            inquiry=row.inquiry,
            user=dict(row.user_info or {}),
            since=row.queued_at,
            offered_to=row.offered_to,
        )
        for row in await conn.execute(query)
    ]


def _held(row: sa.Row[Any]) -> InboxItem:
    return InboxItem(
        id=row.id,
        instance=row.provider,
        status=row.status,
        queue=row.queue,
        language=row.language,
        inquiry=row.inquiry,
        user=dict(row.user_info or {}),
        since=row.created_at,
        unread=int(row.unread or 0),
        end_reason=row.end_reason,
        rating=row.rating_value,
    )


def _held_query(agent_id: str, instances: Collection[str]) -> sa.Select[Any]:
    return sa.select(
        CONVERSATIONS.c.id,
        CONVERSATIONS.c.provider,
        CONVERSATIONS.c.status,
        CONVERSATIONS.c.queue,
        CONVERSATIONS.c.language,
        CONVERSATIONS.c.inquiry,
        CONVERSATIONS.c.user_info,
        CONVERSATIONS.c.created_at,
        CONVERSATIONS.c.end_reason,
        CONVERSATIONS.c.rating_value,
        _unread().label("unread"),
    ).where(CONVERSATIONS.c.agent_id == agent_id, CONVERSATIONS.c.provider.in_(list(instances)))


async def held_by(
    agent_id: str, instances: Collection[str], *, conn: AsyncConnection
) -> list[InboxItem]:
    """The open conversations an agent holds at these instances, with unread counts."""
    if not instances:
        return []
    query = _held_query(agent_id, instances).where(CONVERSATIONS.c.status == "assigned")
    rows = await conn.execute(query.order_by(CONVERSATIONS.c.assigned_at, CONVERSATIONS.c.id))
    return [_held(row) for row in rows]


async def recently_closed_by(
    agent_id: str, instances: Collection[str], *, conn: AsyncConnection, limit: int = 10
) -> list[InboxItem]:
    """The last conversations an agent held that have ended, newest first."""
    if not instances:
        return []
    query = _held_query(agent_id, instances).where(CONVERSATIONS.c.status.in_(("ended", "ticket")))
    rows = await conn.execute(
        query.order_by(CONVERSATIONS.c.ended_at.desc(), CONVERSATIONS.c.id).limit(limit)
    )
    return [_held(row) for row in rows]
