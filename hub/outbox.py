"""The outbox: work for the outside world, written with the change that causes it.

A unit of work stages an outbox row (:func:`stage`); once the batch commits, the row is
handed to the :class:`Dispatcher` of this process, which delivers the rows of one *lane*
(a target and a conversation) one after the other, in order. A failed attempt is retried
with exponential backoff and jitter; when the budget is spent the row is dead-lettered.
Each row is leased while a process works on it; rows whose lease ran out (their process
died) are picked up again by whichever process sweeps first (:meth:`Dispatcher.sweep`, a
job of the hub's scheduler).

What a row means is up to the handler registered for its target's kind (the part of
``target`` before the colon): ``provider:<instance>`` rows are user messages, reads and
closings for a provider adapter (:mod:`hub.conversation.delivery`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

import sqlalchemy as sa

from hub.clock import Clock
from hub.ids import new_id
from hub.journal import Journal, Scope
from hub.models import Outbox, table
from hub.telemetry.context import bind

log = logging.getLogger(__name__)

OUTBOX = table(Outbox)
LEASE = timedelta(seconds=60)
_OUTCOMES = {"done": "done", "pending": "retry", "dead": "dead"}

Row = dict[str, Any]


def stage(
    scope: Scope,
    *,
    target: str,
    kind: str,
    conversation_id: str | None,
    payload: Mapping[str, Any],
    dispatcher: Dispatcher | None,
    event_id: str | None = None,
) -> Row:
    """Stage an outbox row in ``scope``; this process's dispatcher takes it after commit.
    ``event_id`` (stable across retries, sent as ``Hub-Event-Id``) defaults to a new id."""
    now = scope.now
    row: Row = {
        "event_id": event_id or new_id("evt"),
        "target": target,
        "conversation_id": conversation_id,
        "kind": kind,
        "payload": dict(payload),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_until": now + LEASE if dispatcher is not None else None,
        "last_error": None,
        "created_at": now,
        "done_at": None,
    }
    scope.insert(Outbox, row)
    if dispatcher is not None:
        scope.after_commit(partial(dispatcher.enqueue, row))
    return row


class Retry(Exception):  # an instruction to the dispatcher, not an error
    """Raised by a handler: this attempt failed, but a later one may not."""

    def __init__(self, message: str, *, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


class GiveUp(Exception):  # an instruction to the dispatcher, not an error
    """Raised by a handler: no attempt will ever succeed; dead-letter the row now."""


class Handler(Protocol):
    """Delivers one kind of outbox row. Each hook that returns work runs it in the journal,
    in the same transaction that records the row's new status."""

    max_attempts: int

    async def attempt(self, row: Row) -> Callable[[Scope], Awaitable[None]] | None:
        """Deliver; return follow-up work (for example a tick) or None. Raise Retry/GiveUp."""
        ...

    def on_retry(self, row: Row, error: str) -> Callable[[Scope], Awaitable[None]] | None: ...

    def on_dead(self, row: Row, error: str) -> Callable[[Scope], Awaitable[None]] | None: ...


class Dispatcher:
    def __init__(
        self,
        journal: Journal,
        clock: Clock,
        *,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        sweep_every: float = 30.0,
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sweep_every = sweep_every
        self.handlers: dict[str, Handler] = {}
        self._lanes: dict[tuple[str, str | None], deque[Row]] = {}
        # Lanes whose first row failed its last attempt: what is behind it is held.
        self._failing: set[tuple[str, str | None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        # Attempts settled by this process: (kind of target, done|retry|dead) -> count.
        self.settled: Counter[tuple[str, str]] = Counter()

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    async def stop(self) -> None:
        self._stopping = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def enqueue(self, row: Row) -> None:
        if self._stopping:
            return
        lane_key = (row["target"], row["conversation_id"])
        lane = self._lanes.get(lane_key)
        if lane is not None:
            if all(queued["event_id"] != row["event_id"] for queued in lane):
                lane.append(row)
            return
        self._lanes[lane_key] = deque([row])
        self._idle.clear()
        task = asyncio.create_task(self._drain(lane_key), name=f"outbox:{lane_key[0]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def failing(self, target: str, conversation_id: str | None) -> bool:
        """True while the first row of this lane waits for a retry (what follows is held)."""
        return (target, conversation_id) in self._failing

    @property
    def pending(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    async def idle(self) -> None:
        """Wait until every lane of this process is empty (for tests and shutdown)."""
        await self._idle.wait()

    async def _drain(self, lane_key: tuple[str, str | None]) -> None:
        lane = self._lanes[lane_key]
        kind, _, name = lane_key[0].partition(":")  # the lane's own task: its log lines say
        bind(
            conversation=lane_key[1],
            provider=name if kind == "provider" else None,
            bot=name if kind == "callback" else None,
        )
        try:
            while lane:
                row = lane[0]
                delay = await self._attempt(row)
                if delay is None:
                    lane.popleft()
                else:
                    await asyncio.sleep(delay)
        finally:
            self._lanes.pop(lane_key, None)
            self._failing.discard(lane_key)
            if not self._lanes:
                self._idle.set()

    def _handler(self, row: Row) -> Handler | None:
        return self.handlers.get(row["target"].split(":", 1)[0])

    async def _attempt(self, row: Row) -> float | None:
        """One attempt; returns None when the row is settled, else seconds until the next."""
        handler = self._handler(row)
        if handler is None:
            await self._settle(row, "dead", f"no handler for target {row['target']!r}", None)
            return None
        row["attempts"] += 1
        try:
            follow_up = await handler.attempt(row)
        except Retry as retry:
            return await self._failed(handler, row, str(retry), retry.after)
        except GiveUp as give_up:
            await self._settle(row, "dead", str(give_up), handler.on_dead(row, str(give_up)))
            return None
        except Exception as exc:
            log.exception("outbox handler for %s crashed", row["target"])
            return await self._failed(handler, row, f"{type(exc).__name__}: {exc}", None)
        await self._settle(row, "done", None, follow_up)
        return None

    async def _failed(
        self, handler: Handler, row: Row, error: str, after: float | None
    ) -> float | None:
        if row["attempts"] >= handler.max_attempts:
            await self._settle(row, "dead", error, handler.on_dead(row, error))
            return None
        self._failing.add((row["target"], row["conversation_id"]))
        # A provider's own Retry-After is taken, up to the longest wait the hub allows.
        delay = min(after, self.backoff_cap) if after is not None else self.backoff(row["attempts"])
        await self._settle(row, "pending", error, handler.on_retry(row, error), delay=delay)
        return delay

    def backoff(self, attempts: int) -> float:
        """Exponential, capped, with full jitter over its upper half."""
        ceiling: float = min(self.backoff_cap, self.backoff_base * 2 ** (attempts - 1))
        return ceiling / 2 + random.random() * ceiling / 2

    async def _settle(
        self,
        row: Row,
        status: str,
        error: str | None,
        follow_up: Callable[[Scope], Awaitable[None]] | None,
        *,
        delay: float = 0.0,
    ) -> None:
        async def work(scope: Scope) -> None:
            now = scope.now
            values: dict[str, Any] = {
                "status": status,
                "attempts": row["attempts"],
                "last_error": error,
            }
            if status == "pending":
                next_at = now + timedelta(seconds=delay)
                values.update(next_attempt_at=next_at, claimed_until=next_at + LEASE)
            else:
                values.update(done_at=now, claimed_until=None)
            if follow_up is not None:
                await follow_up(scope)
            scope.stage(
                sa.update(OUTBOX).where(OUTBOX.c.event_id == row["event_id"]).values(**values)
            )

        conversations = (row["conversation_id"],) if row["conversation_id"] else ()
        await self.journal.run(work, conversations=conversations)
        if status != "pending":
            self._failing.discard((row["target"], row["conversation_id"]))
        self.settled[(row["target"].split(":", 1)[0], _OUTCOMES[status])] += 1

    async def redeliver(self, event_id: str) -> bool:
        """Send a dead-lettered row again, from its first attempt (an admin's action)."""

        async def revive(scope: Scope) -> Row | None:
            now = scope.now
            revived = (
                await scope.conn.execute(
                    sa.update(OUTBOX)
                    .where(OUTBOX.c.event_id == event_id, OUTBOX.c.status == "dead")
                    .values(
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        claimed_until=now + LEASE,
                        done_at=None,
                    )
                    .returning(*OUTBOX.columns)
                )
            ).first()
            if revived is None:
                return None
            row = dict(revived._mapping)
            scope.after_commit(partial(self.enqueue, row))
            return row

        return await self.journal.run(revive, isolated=True) is not None

    async def sweep(self) -> int:
        """Take over rows nobody holds (their process died, or they were never taken). The
        hub's scheduler runs it every ``sweep_every`` seconds; new rows never wait for it."""
        now = self.clock.now()

        async def claim(scope: Scope) -> list[Row]:
            due = (
                sa.select(OUTBOX.c.id)
                .where(
                    OUTBOX.c.status == "pending",
                    OUTBOX.c.next_attempt_at <= now,
                    sa.or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now),
                )
                .order_by(OUTBOX.c.id)
                .limit(500)
            )
            if scope.conn.dialect.name != "sqlite":
                due = due.with_for_update(skip_locked=True)
            ids = list(await scope.conn.scalars(due))
            if not ids:
                return []
            rows = await scope.conn.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.id.in_(ids))
                .values(claimed_until=now + LEASE)
                .returning(*OUTBOX.columns)
            )
            return sorted((dict(row._mapping) for row in rows), key=lambda row: row["id"])

        claimed = await self.journal.run(claim)
        for row in claimed:
            self.enqueue(row)
        return len(claimed)
