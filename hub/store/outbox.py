"""Reading the outbox: dead letters, for admins to look at and send again."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import Outbox, table

OUTBOX = table(Outbox)


async def dead_letters(
    *, conn: AsyncConnection, kind: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Rows given up on, newest first; ``kind`` limits them to one target kind
    (``callback``, ``provider``)."""
    query = sa.select(OUTBOX).where(OUTBOX.c.status == "dead")
    if kind is not None:
        query = query.where(OUTBOX.c.target.startswith(f"{kind}:"))
    rows = await conn.execute(
        query.order_by(OUTBOX.c.done_at.desc(), OUTBOX.c.id.desc()).limit(limit)
    )
    return [dict(row._mapping) for row in rows]
