"""Following a conversation's log: the backlog from the database, then live envelopes.

Used by all three transports (WebSocket, SSE, long-poll). The subscription is taken
before the backlog is read, so an envelope committed in between is not lost; envelopes
at or below the mark are dropped, so none is sent twice; a hole in the live sequence
(written by another hub process) is filled from the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from hub.db import Database
from hub.eventbus import Envelope, EventBus, Subscription
from hub.store.events import events_after

PAGE = 1000


async def backlog(
    database: Database, conversation_id: str, after: int, until: int | None = None
) -> AsyncIterator[list[Envelope]]:
    """Stored envelopes after ``after`` (up to ``until``), page by page."""
    while True:
        async with database.read() as conn:
            page = await events_after(conversation_id, after, conn=conn, limit=PAGE, until=until)
        if page:
            yield page
            after = page[-1].seq
        if len(page) < PAGE:
            return


async def follow(
    database: Database, subscription: Subscription, after: int
) -> AsyncIterator[list[Envelope]]:
    """Everything after ``after``, then whatever comes, until the subscription closes."""
    conversation_id = subscription.conversation_id
    mark = after
    async for page in backlog(database, conversation_id, mark):
        yield page
        mark = page[-1].seq
    while not subscription.closed:
        arrived = await subscription.wait()
        fresh = [envelope for envelope in arrived if envelope.seq > mark]
        if not fresh:
            continue
        contiguous = fresh[0].seq == mark + 1 and fresh[-1].seq - fresh[0].seq + 1 == len(fresh)
        if contiguous:
            yield fresh
            mark = fresh[-1].seq
            continue
        async for page in backlog(database, conversation_id, mark, until=fresh[-1].seq):
            yield page
            mark = page[-1].seq


class Following:
    """A subscription held for the life of one stream (``async with``)."""

    def __init__(self, bus: EventBus, conversation_id: str) -> None:
        self.bus = bus
        self.subscription = bus.subscribe(conversation_id)

    async def __aenter__(self) -> Subscription:
        return self.subscription

    async def __aexit__(self, *exc_info: object) -> None:
        self.bus.unsubscribe(self.subscription)
