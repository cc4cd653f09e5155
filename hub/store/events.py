"""Reading the event log."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.eventbus import Envelope
from hub.models import Event, table

EVENTS = table(Event)
_COLUMNS = (EVENTS.c.seq, EVENTS.c.at, EVENTS.c.action, EVENTS.c.data)


async def events_after(
    conversation_id: str,
    after: int,
    *,
    conn: AsyncConnection,
    limit: int = 1000,
    until: int | None = None,
) -> list[Envelope]:
    """Envelopes with ``after < seq`` (and ``seq <= until``), in order, at most ``limit``."""
    query = (
        sa.select(*_COLUMNS)
        .where(EVENTS.c.conversation_id == conversation_id, EVENTS.c.seq > after)
        .order_by(EVENTS.c.seq)
        .limit(limit)
    )
    if until is not None:
        query = query.where(EVENTS.c.seq <= until)
    rows = await conn.execute(query)
    return [Envelope(conversation_id, row.seq, row.at, row.action, row.data) for row in rows]
