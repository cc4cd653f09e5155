"""Claiming due rows inside a unit of work."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hub.db import Database
from hub.journal import Scope
from hub.models import Conversation, table

CONVERSATIONS = table(Conversation)
BATCH = 200
NOW: sa.BindParameter[Any] = sa.bindparam("now")  # the time a prebuilt query compares with


async def claim(scope: Scope, query: sa.Select[Any], *, limit: int = BATCH) -> list[Any]:
    """Run ``query`` (selecting ids) locking what it finds; rows another process holds are
    skipped (it is working on them). Act on the rows in the same unit, after checking the
    condition again on the state the unit sees: an earlier unit of the same batch may
    have acted already (its change is staged, not yet in the rows the query read)."""
    query = query.limit(limit)
    if scope.conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    return list(await scope.conn.scalars(query))


def due_conversations(*conditions: Any) -> sa.Select[Any]:
    return sa.select(CONVERSATIONS.c.id).where(*conditions).order_by(CONVERSATIONS.c.id)


async def anything_due(database: Database, query: sa.Select[Any], **params: Any) -> bool:
    """Whether ``query`` (with its bind ``params``) finds a row now: a read on the request
    path's connection, no transaction. A sweep asks first, so a tick with nothing due
    writes nothing (an idle hub otherwise opened several write transactions a second, in
    every process). The sweeps' queries are built once, with the time as a bind parameter
    (``NOW``): building one with the time in it cost more than running it."""
    async with database.lookup() as conn:
        return (await conn.scalar(query.limit(1), params)) is not None
