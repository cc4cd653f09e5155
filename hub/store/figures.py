"""Counts over the whole installation for ``/metrics``: open conversations and the outbox.

Both read through indexes on ``status`` and only open conversations or undelivered outbox
rows, so their cost follows the live work, not the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import OPEN_STATUSES, Conversation, Outbox, table

CONVERSATIONS = table(Conversation)
OUTBOX = table(Outbox)
UNDELIVERED = ("pending", "dead")


@dataclass(frozen=True, slots=True)
class Tally:
    """How many rows, and the oldest one's ``created_at``."""

    count: int
    oldest: datetime | None


async def _tallies(
    conn: AsyncConnection, rows: sa.Table, key: sa.ColumnElement[str], statuses: Sequence[str]
) -> list[tuple[str, str, Tally]]:
    """(key, status, tally) of the rows in ``statuses``, by key and status."""
    result = await conn.execute(
        sa.select(key, rows.c.status, sa.func.count(), sa.func.min(rows.c.created_at))
        .where(rows.c.status.in_(statuses))
        .group_by(key, rows.c.status)
    )
    return [(name, status, Tally(count, oldest)) for name, status, count, oldest in result]


async def open_conversations(*, conn: AsyncConnection) -> dict[tuple[str, str], Tally]:
    """Open conversations by (queue, status)."""
    found = await _tallies(conn, CONVERSATIONS, CONVERSATIONS.c.queue, OPEN_STATUSES)
    return {(queue, status): tally for queue, status, tally in found}


async def undelivered(*, conn: AsyncConnection) -> dict[tuple[str, str], Tally]:
    """Outbox rows not delivered yet (``pending``) or given up on (``dead``), by (kind of
    target, status): ``provider``, ``callback``, ``chatlayer``."""
    tallies: dict[tuple[str, str], Tally] = {}
    for target, status, tally in await _tallies(conn, OUTBOX, OUTBOX.c.target, UNDELIVERED):
        key = (target.split(":", 1)[0], status)
        known = tallies.get(key)
        if known is not None:
            oldest = min(
                (moment for moment in (known.oldest, tally.oldest) if moment is not None),
                default=None,
            )
            tally = Tally(known.count + tally.count, oldest)
        tallies[key] = tally
    return tallies


async def failed_hand_backs(*, conn: AsyncConnection) -> dict[str, int]:
    """Hand-backs to Chatlayer given up on (each leaves a user with a paused bot), by
    integration: dead outbox rows of kind ``resume`` to ``chatlayer:<integration>``."""
    result = await conn.execute(
        sa.select(OUTBOX.c.target, sa.func.count())
        .where(
            OUTBOX.c.status == "dead",
            OUTBOX.c.kind == "resume",
            OUTBOX.c.target.startswith("chatlayer:"),
        )
        .group_by(OUTBOX.c.target)
    )
    return {target.split(":", 1)[1]: count for target, count in result}
