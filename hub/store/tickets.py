"""Tickets: conversations an offline step (the email provider) took, with the replies
that came back for them (agent messages recorded on the ticket)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import Conversation, Message, table

CONVERSATIONS = table(Conversation)
MESSAGES = table(Message)
USER_FIELDS = ("name", "lastName", "email")


@dataclass(frozen=True, slots=True)
class TicketItem:
    id: str  # the conversation
    ticket_id: str
    provider: str | None
    queue: str
    user: dict[str, Any]
    inquiry: str
    created_at: datetime
    replies: int
    last_reply_at: datetime | None


def _user_matches(term: str) -> sa.ColumnElement[bool]:
    """The user's name, last name or email address contains ``term`` (any case), or the
    ticket id does."""
    wanted = term.strip().lower()
    fields = [
        sa.func.lower(CONVERSATIONS.c.user_info[field].as_string()).contains(
            wanted, autoescape=True
        )
        for field in USER_FIELDS
    ]
    fields.append(sa.func.lower(CONVERSATIONS.c.ticket_id).contains(wanted, autoescape=True))
    return sa.or_(*fields)


async def find_tickets(
    *,
    conn: AsyncConnection,
    user: str | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
    limit: int = 100,
) -> list[TicketItem]:
    """Tickets, newest first, maybe only those of a user (``user`` in their name or
    address, or the ticket id) created in ``[since, before)``."""
    replies = (
        sa.select(
            MESSAGES.c.conversation_id,
            sa.func.count().label("replies"),
            sa.func.max(MESSAGES.c.created_at).label("last_reply_at"),
        )
        .where(MESSAGES.c.author == "agent")
        .group_by(MESSAGES.c.conversation_id)
        .subquery()
    )
    c = CONVERSATIONS.c
    query = (
        sa.select(
            c.id,
            c.ticket_id,
            c.provider,
            c.queue,
            c.user_info,
            c.inquiry,
            c.created_at,
            replies.c.replies,
            replies.c.last_reply_at,
        )
        .select_from(CONVERSATIONS.outerjoin(replies, replies.c.conversation_id == c.id))
        .where(c.status == "ticket")
        .order_by(c.created_at.desc(), c.id)
        .limit(limit)
    )
    if user and user.strip():
        query = query.where(_user_matches(user))
    if since is not None:
        query = query.where(c.created_at >= since)
    if before is not None:
        query = query.where(c.created_at < before)
    return [
        TicketItem(
            id=row.id,
            ticket_id=row.ticket_id or "",
            provider=row.provider,
            queue=row.queue,
            user=dict(row.user_info or {}),
            inquiry=row.inquiry,
            created_at=row.created_at,
            replies=int(row.replies or 0),
            last_reply_at=row.last_reply_at,
        )
        for row in await conn.execute(query)
    ]
