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


async def events_after_many(
    requests: dict[str, int], *, conn: AsyncConnection, limit: int = 1000
) -> dict[str, list[Envelope]]:
    """For many conversations at once: envelopes after each one's seq, in order, at most
    ``limit`` per conversation (one query, for streams that resume together)."""
    wanted = (
        sa.values(sa.column("cid", sa.String), sa.column("after", sa.Integer), name="wanted")
        .data(list(requests.items()))
        .cte("wanted")
    )
    ranked = (
        sa.select(
            EVENTS.c.conversation_id,
            *_COLUMNS,
            sa.func.row_number()
            .over(partition_by=EVENTS.c.conversation_id, order_by=EVENTS.c.seq)
            .label("rank"),
        )
        .join(
            wanted,
            sa.and_(EVENTS.c.conversation_id == wanted.c.cid, EVENTS.c.seq > wanted.c.after),
        )
        .subquery()
    )
    query = (
        sa.select(
            ranked.c.conversation_id, ranked.c.seq, ranked.c.at, ranked.c.action, ranked.c.data
        )
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.conversation_id, ranked.c.seq)
    )
    found: dict[str, list[Envelope]] = {cid: [] for cid in requests}
    for row in await conn.execute(query):
        found[row.conversation_id].append(
            Envelope(row.conversation_id, row.seq, row.at, row.action, row.data)
        )
    return found
