"""Following a conversation's log: the backlog from the database, then live envelopes.

Used by all three transports (WebSocket, SSE, long-poll). The subscription is taken
before the backlog is read, so an envelope committed in between is not lost; envelopes
at or below the mark are dropped, so none is sent twice; a hole in the live sequence is
filled from the database.

Reads are shared: :class:`LogReader` answers every backlog wanted at the same moment with
one query (thousands of streams resuming after a restart cost a few queries, not
thousands), and a stream that resumes already up to date (its ``after`` is the head the
bus knows) reads nothing at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from hub.db import Database
from hub.eventbus import Envelope, EventBus, Subscription
from hub.store.events import events_after, events_after_many

PAGE = 1000
CHUNK = 500  # conversations per shared query


class LogReader:
    """Reads conversations' logs for many callers at once (one query per moment)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._waiting: dict[str, list[tuple[int, asyncio.Future[tuple[list[Envelope], bool]]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.queries = 0

    async def read(self, conversation_id: str, after: int) -> tuple[list[Envelope], bool]:
        """Up to a page of envelopes after ``after``; True when that is all there is."""
        future: asyncio.Future[tuple[list[Envelope], bool]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.setdefault(conversation_id, []).append((after, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="log-reader")
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                waiting, self._waiting = self._waiting, {}
                items = list(waiting.items())
                for start in range(0, len(items), CHUNK):
                    await self._answer(dict(items[start : start + CHUNK]))
        finally:
            self._task = None

    async def _answer(
        self, waiting: dict[str, list[tuple[int, asyncio.Future[tuple[list[Envelope], bool]]]]]
    ) -> None:
        requests = {cid: min(after for after, _ in callers) for cid, callers in waiting.items()}
        try:
            async with self.database.read() as conn:
                found = await events_after_many(requests, conn=conn, limit=PAGE)
            self.queries += 1
        except Exception as exc:
            for callers in waiting.values():
                for _, future in callers:
                    if not future.done():
                        future.set_exception(exc)
            return
        for cid, callers in waiting.items():
            envelopes = found.get(cid, [])
            complete = len(envelopes) < PAGE
            for after, future in callers:
                if not future.done():
                    future.set_result(([e for e in envelopes if e.seq > after], complete))


async def _gap(
    database: Database, conversation_id: str, after: int, until: int
) -> AsyncIterator[list[Envelope]]:
    """Stored envelopes in ``(after, until]``, page by page (a hole in the live sequence)."""
    while after < until:
        async with database.read() as conn:
            page = await events_after(conversation_id, after, conn=conn, limit=PAGE, until=until)
        if not page:
            return
        yield page
        after = page[-1].seq


async def backlog(
    reader: LogReader, bus: EventBus, subscription: Subscription, after: int
) -> AsyncIterator[list[Envelope]]:
    """What the log holds after ``after``, page by page (nothing to read when the bus
    knows the stream is up to date). The subscription's ``mark`` follows the pages."""
    conversation_id = subscription.conversation_id
    subscription.mark = after
    if bus.up_to_date(conversation_id, after):
        return
    while True:
        page, complete = await reader.read(conversation_id, subscription.mark)
        if page:
            yield page
            subscription.mark = page[-1].seq
        if complete:
            return


async def follow(
    reader: LogReader, bus: EventBus, subscription: Subscription, after: int
) -> AsyncIterator[list[Envelope]]:
    """Everything after ``after``, then whatever comes, until the subscription closes.
    The subscription's ``mark`` follows what has been yielded."""
    conversation_id = subscription.conversation_id
    async for page in backlog(reader, bus, subscription, after):
        yield page
    while not subscription.closed:
        arrived = await subscription.wait()
        mark = subscription.mark
        fresh = [envelope for envelope in arrived if envelope.seq > mark]
        if not fresh:
            continue
        contiguous = fresh[0].seq == mark + 1 and fresh[-1].seq - fresh[0].seq + 1 == len(fresh)
        if contiguous:
            yield fresh
            subscription.mark = fresh[-1].seq
            continue
        async for page in _gap(reader.database, conversation_id, mark, fresh[-1].seq):
            yield page
            subscription.mark = page[-1].seq


class Following:
    """A subscription held for the life of one stream (``async with``)."""

    def __init__(self, bus: EventBus, conversation_id: str) -> None:
        self.bus = bus
        self.subscription = bus.subscribe(conversation_id)

    async def __aenter__(self) -> Subscription:
        return self.subscription

    async def __aexit__(self, *exc_info: object) -> None:
        self.bus.unsubscribe(self.subscription)
