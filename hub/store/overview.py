"""The desks' live figures for the admins' overview: waiting, active, recent waits."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import Conversation, DeskEntry, table

CONVERSATIONS = table(Conversation)
DESK = table(DeskEntry)
WAIT_SAMPLE = 500


@dataclass(frozen=True, slots=True)
class DeskFigures:
    waiting: int
    active: int
    # Seconds the conversations taken since ``since`` waited for an agent (None: none taken).
    average_wait: float | None
    taken: int
    oldest_waiting_since: datetime | None


async def desk_figures(
    instances: Collection[str], *, conn: AsyncConnection, since: datetime
) -> DeskFigures:
    names = list(instances)
    if not names:
        return DeskFigures(0, 0, None, 0, None)
    waiting, oldest = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.min(DESK.c.queued_at))
            .join(CONVERSATIONS, CONVERSATIONS.c.id == DESK.c.conversation_id)
            .where(DESK.c.instance.in_(names), CONVERSATIONS.c.status == "queued")
        )
    ).one()
    active = await conn.scalar(
        sa.select(sa.func.count()).where(
            CONVERSATIONS.c.provider.in_(names), CONVERSATIONS.c.status == "assigned"
        )
    )
    rows = list(
        await conn.execute(
            sa.select(CONVERSATIONS.c.created_at, CONVERSATIONS.c.assigned_at)
            .where(
                CONVERSATIONS.c.provider.in_(names),
                CONVERSATIONS.c.assigned_at.is_not(None),
                CONVERSATIONS.c.assigned_at >= since,
            )
            .order_by(CONVERSATIONS.c.assigned_at.desc())
            .limit(WAIT_SAMPLE)
        )
    )
    average = (
        sum((row.assigned_at - row.created_at).total_seconds() for row in rows) / len(rows)
        if rows
        else None
    )
    return DeskFigures(int(waiting or 0), int(active or 0), average, len(rows), oldest)
