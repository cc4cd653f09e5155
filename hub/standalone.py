"""A journal for a command that writes without a serving hub (the CLI, the demo's setup).

Writes go through journal units everywhere, also outside the application: a command gets
a journal of its own on the database's writer, with an event bus nobody listens to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.clock import Clock
from hub.db import Database
from hub.eventbus import EventBus
from hub.journal import Journal
from hub.writer import journal_writer


@asynccontextmanager
async def standalone_journal(database: Database, clock: Clock) -> AsyncIterator[Journal]:
    """A running journal on ``database``, stopped (what was queued written) on exit."""
    writer = journal_writer(database.url, database.writer)
    journal = Journal(writer, EventBus(), clock)
    await journal.start()
    try:
        yield journal
    finally:
        await journal.stop()
        await writer.close()
