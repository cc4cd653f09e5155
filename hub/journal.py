"""The write path: every change to a conversation goes through the journal.

A change is a *unit of work*: an async function given a :class:`Scope`. It reads the
conversation's state, decides, and stages what to write: rows to insert, fields to
update, and envelopes to append to the event log. The journal runs the units waiting at
that moment in one transaction (group commit), so under load many changes share one
commit, while a lone change is committed at once.

Seqs come from the conversation row itself: it is read (``FOR UPDATE`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` holds the single write lock) at the start of the batch,
every envelope takes ``last_seq + 1``, and the new ``last_seq`` is written in the same
transaction as the envelopes and the change they report. So seqs have no gaps and are
never reused, across hub processes too.

A unit that raises has nothing of its own written (its staging is dropped) and its
caller gets the exception. A batch the database refuses (a replayed id racing its twin,
a value it cannot store) is rolled back and run again with each unit in a savepoint of
its own and ``scope.careful`` set, so each can look for the row that beat it: the unit
that cannot be written fails alone, and everything else in the batch commits.

The writing itself is :mod:`hub.writer`'s: one connection kept for the journal, rows in
bulk. The loop that runs batches is supervised: if it ever dies, the units waiting for
it fail with the error instead of waiting forever, and it starts again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
import sqlalchemy as sa
from sqlmodel import SQLModel

from hub.actions import SDK_ACTIONS, Action
from hub.clock import Clock, iso
from hub.errors import NotFound
from hub.eventbus import Envelope, EventBus
from hub.models import OPEN_STATUSES, Conversation, table
from hub.telemetry.metrics import HubMetrics
from hub.writer import Unavailable, WriteConnection, Writer

log = logging.getLogger(__name__)

T = TypeVar("T")

CONVERSATIONS = table(Conversation)
# The part of a conversation row a unit may read and change. The transcript and the
# escalation data are written once and read by the snapshot, never on the write path.
STATE_COLUMNS = tuple(c for c in CONVERSATIONS.columns if c.name not in {"transcript", "data"})
# Built once: the batch's conversations, locked on PostgreSQL (SQLite's BEGIN IMMEDIATE
# already holds its one write lock).
_SELECT_STATE = (
    sa.select(*STATE_COLUMNS)
    .where(CONVERSATIONS.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(CONVERSATIONS.c.id)
)
_SELECT_STATE_LOCKED = _SELECT_STATE.with_for_update()
_COLUMN_NAMES = tuple(c.name for c in CONVERSATIONS.columns)


# A new conversation's defaults: the model's, read once (a factory is called per row, so
# no two rows share a list or a dict).
_DEFAULTS = [
    (name, field.default_factory, field.default)
    for name, field in Conversation.model_fields.items()
    if not field.is_required()
]


def _defaults() -> dict[str, Any]:
    return {
        # The model's factories take no arguments (pydantic also allows one of the data).
        name: factory() if factory is not None else default  # type: ignore[call-arg]
        for name, factory, default in _DEFAULTS
    }


_EVENTS = "events"


class ConversationState:
    """A conversation row as a unit sees it; ``set`` records what to write back."""

    __slots__ = ("changed", "new", "row")

    def __init__(self, row: dict[str, Any], *, new: bool = False) -> None:
        self.row = row
        self.changed: set[str] = set()
        self.new = new

    def __getitem__(self, key: str) -> Any:
        return self.row[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.row.get(key, default)

    @property
    def id(self) -> str:
        conversation_id: str = self.row["id"]
        return conversation_id

    @property
    def is_open(self) -> bool:
        return self.row["status"] in OPEN_STATUSES

    def set(self, **fields: Any) -> None:
        row = self.row
        for key, value in fields.items():
            if key not in row:
                raise KeyError(f"conversations has no column {key!r}")
            if row[key] != value:
                row[key] = value
                self.changed.add(key)

    def copy(self) -> ConversationState:
        clone = ConversationState(dict(self.row), new=self.new)
        clone.changed = set(self.changed)
        return clone


class _Batch:
    __slots__ = (
        "callbacks",
        "conn",
        "envelopes",
        "inserts",
        "memo",
        "now",
        "now_iso",
        "statements",
        "states",
    )

    def __init__(self, conn: WriteConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.now_iso = iso(now)
        self.states: dict[str, ConversationState] = {}
        self.inserts: dict[str, list[dict[str, Any]]] = {}
        self.envelopes: list[Envelope] = []
        self.statements: list[sa.Executable] = []
        self.callbacks: list[Callable[[], Any]] = []
        self.memo: dict[Any, Any] = {}


class Scope:
    """What one unit of work sees: the batch's transaction, its own staging."""

    __slots__ = (
        "_batch",
        "_callbacks",
        "_envelopes",
        "_inserts",
        "_memo",
        "_statements",
        "_states",
        "careful",
    )

    def __init__(self, batch: _Batch, *, careful: bool) -> None:
        self._batch = batch
        self.careful = careful
        self._states: dict[str, ConversationState] = {}
        self._inserts: list[tuple[str, dict[str, Any]]] = []
        self._envelopes: list[Envelope] = []
        self._statements: list[sa.Executable] = []
        self._callbacks: list[Callable[[], Any]] = []
        self._memo: dict[Any, Any] = {}

    @property
    def conn(self) -> WriteConnection:
        """The batch's connection, for reads a unit cannot do without (keep them rare)."""
        return self._batch.conn

    @property
    def now(self) -> datetime:
        return self._batch.now

    async def conversation(self, conversation_id: str) -> ConversationState:
        state = self._states.get(conversation_id)
        if state is not None:
            return state
        batch_state = self._batch.states.get(conversation_id)
        if batch_state is None:
            loaded = await _load_states(self._batch.conn, [conversation_id])
            batch_state = loaded.get(conversation_id)
            if batch_state is None:
                raise NotFound(f"conversation {conversation_id!r} does not exist")
            self._batch.states[conversation_id] = batch_state
        state = self._states[conversation_id] = batch_state.copy()
        return state

    async def conversations(self, conversation_ids: Iterable[str]) -> list[ConversationState]:
        """Several conversations at once (one query for those not loaded yet)."""
        ids = list(dict.fromkeys(conversation_ids))
        missing = [cid for cid in ids if cid not in self._states and cid not in self._batch.states]
        if missing:
            self._batch.states.update(await _load_states(self._batch.conn, sorted(missing)))
        found = []
        for cid in ids:
            if cid in self._states or cid in self._batch.states:
                found.append(await self.conversation(cid))
        return found

    def create_conversation(self, row: dict[str, Any]) -> ConversationState:
        full: dict[str, Any] = dict.fromkeys(_COLUMN_NAMES)
        full.update(_defaults())
        full.update(row)
        full.setdefault("updated_at", self.now)
        state = ConversationState(full, new=True)
        self._states[state.id] = state
        return state

    def insert(self, model: type[SQLModel], row: dict[str, Any]) -> None:
        self._inserts.append((table(model).name, row))

    def recall(self, key: Any, default: Any = None) -> Any:
        """What this batch's earlier units noted under ``key`` (rows they changed, say)."""
        if key in self._memo:
            return self._memo[key]
        return self._batch.memo.get(key, default)

    def note(self, key: Any, value: Any) -> None:
        """Note ``value`` for later units of the batch (kept only if this unit succeeds)."""
        self._memo[key] = value

    def stage(self, statement: sa.Executable) -> None:
        """Run ``statement`` (an UPDATE of another table, say) when the batch is written."""
        self._statements.append(statement)

    def emit(self, conversation: ConversationState, action: str, data: Mapping[str, Any]) -> int:
        """Append an envelope to the conversation's log; returns its seq."""
        if action not in SDK_ACTIONS:
            raise ValueError(f"{action!r} is not an action the hub emits")
        seq: int = conversation["last_seq"] + 1
        conversation.set(last_seq=seq)
        data_json = orjson.dumps(data).decode()
        now = self.now
        self._inserts.append(
            (
                _EVENTS,
                {
                    "conversation_id": conversation.id,
                    "seq": seq,
                    "at": now,
                    "action": action,
                    "data": data_json,
                },
            )
        )
        self._envelopes.append(
            Envelope(conversation.id, seq, self._batch.now_iso, action, data_json)
        )
        return seq

    def emit_all(self, conversation: ConversationState, actions: Iterable[Action]) -> int:
        seq = 0
        for action, data in actions:
            seq = self.emit(conversation, action, data)
        return seq

    def after_commit(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` once the unit's changes are committed (never if they are not)."""
        self._callbacks.append(callback)

    def _merge(self) -> None:
        batch = self._batch
        batch.states.update(self._states)
        for name, row in self._inserts:
            batch.inserts.setdefault(name, []).append(row)
        batch.envelopes.extend(self._envelopes)
        batch.statements.extend(self._statements)
        batch.callbacks.extend(self._callbacks)
        batch.memo.update(self._memo)


Work = Callable[[Scope], Awaitable[T]]


class _Job(Generic[T]):
    __slots__ = ("conversations", "error", "future", "isolated", "result", "work")

    def __init__(
        self,
        work: Work[T],
        conversations: tuple[str, ...],
        future: asyncio.Future[T],
        isolated: bool,
    ) -> None:
        self.work = work
        self.conversations = conversations
        self.future = future
        self.isolated = isolated
        self.reset()

    def reset(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None

    def settle(self) -> None:
        if self.future.done():
            return
        if self.error is not None:
            self.future.set_exception(self.error)
        else:
            self.future.set_result(self.result)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _load_states(conn: WriteConnection, ids: list[str]) -> dict[str, ConversationState]:
    query = _SELECT_STATE if conn.dialect.name == "sqlite" else _SELECT_STATE_LOCKED
    result = await conn.execute(query, {"ids": ids})
    return {row.id: ConversationState(dict(row._mapping)) for row in result}


Tap = Callable[[Scope, list[Envelope]], Awaitable[None]]


class Journal:
    """Runs units of work in grouped transactions and publishes what they emitted."""

    def __init__(
        self,
        writer: Writer,
        bus: EventBus,
        clock: Clock,
        *,
        metrics: HubMetrics | None = None,
        max_batch: int = 500,
    ) -> None:
        self.writer = writer
        self.metrics = metrics
        self.bus = bus
        self.clock = clock
        self.max_batch = max_batch
        self.linger_turns = 4
        self._queue: list[_Job[Any]] = []
        self._current: list[_Job[Any]] = []
        # Open conversations as last written by this journal (see _states).
        self._cache: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches = 0
        self.units = 0
        self.restarts = 0
        # Taps see every batch's envelopes before it is written and may stage rows in the
        # same transaction (a bot's callback deliveries, say). They must not emit.
        self.taps: list[Tap] = []

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="journal")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def run(
        self, work: Work[T], *, conversations: Iterable[str] = (), isolated: bool = False
    ) -> T:
        """Run ``work`` in the next batch and return its result (or raise its error).

        A unit that writes through ``scope.conn`` itself (an atomic claim with RETURNING,
        say) must be ``isolated``: it runs in a savepoint, so if it raises after writing,
        its writes are undone while the rest of the batch commits."""
        return await self.submit(work, conversations=conversations, isolated=isolated)

    def submit(
        self, work: Work[T], *, conversations: Iterable[str] = (), isolated: bool = False
    ) -> asyncio.Future[T]:
        """Queue ``work`` now (units run in the order they were submitted); the future
        gives its result once its batch is committed. A caller that stops waiting does
        not stop the work."""
        if self._closing:
            raise RuntimeError("the journal is stopping")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # The outcome is retrieved even if nobody waits, so an error is never reported
        # as unhandled; settle() skips a future its caller cancelled.
        future.add_done_callback(_retrieve)
        self._queue.append(_Job(work, tuple(conversations), future, isolated))
        self._wake.set()
        return future

    async def _supervise(self) -> None:
        while True:
            try:
                await self._loop()
                return
            except Exception as exc:
                # A bug in the journal itself: whoever waits on the batch hears of it, and
                # later writes are not left waiting for a loop that is gone.
                self.restarts += 1
                log.error("the journal's writer failed and restarts: %r", exc, exc_info=True)
                for job in self._current:
                    if job.error is None:
                        job.error = exc
                    job.settle()
                self._current = []
                await asyncio.sleep(0.05)

    async def _loop(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._gather()
            jobs, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self._current = jobs
            await self._process(jobs)
            self._current = []

    async def _gather(self) -> None:
        """Group commit: before a batch is written, let the work already on its way (frames
        read, requests parsed in this very moment) join it, for as long as it keeps coming
        and the batch has room. Costs a lone unit one turn of the event loop."""
        for _ in range(self.linger_turns):
            queued = len(self._queue)
            if queued >= self.max_batch:
                return
            await asyncio.sleep(0)
            if len(self._queue) == queued:
                return

    async def _process(self, jobs: list[_Job[Any]]) -> None:
        try:
            await self._commit(jobs)
        except Unavailable as exc:
            log.error("journal batch of %d units not written: %s", len(jobs), exc)
            self._fail(jobs, exc)
            return
        except Exception as exc:
            # The database refused something in the batch: a replayed id that raced its
            # twin, a value it cannot store. Write it again with every unit in a savepoint
            # of its own, so only the unit at fault fails.
            log.info(
                "journal batch of %d units refused (%s: %s); writing unit by unit",
                len(jobs),
                type(exc).__name__,
                exc,
            )
            for job in jobs:
                job.reset()
            try:
                await self._commit_one_by_one(jobs)
            except Exception as failure:  # the database itself is failing
                log.error(
                    "journal batch of %d units failed: %s: %s",
                    len(jobs),
                    type(failure).__name__,
                    failure,
                )
                self._fail(jobs, failure)
                return
        for job in jobs:
            job.settle()

    @staticmethod
    def _fail(jobs: list[_Job[Any]], error: BaseException) -> None:
        for job in jobs:
            job.error = error
            job.settle()

    async def _states(
        self, conn: WriteConnection, jobs: list[_Job[Any]]
    ) -> dict[str, ConversationState]:
        """The batch's conversations: from the cache of open ones when this process is the
        only writer since it last wrote (the writer can tell), else from the database."""
        if not await self.writer.sole_writer(conn):
            self._cache.clear()
        ids = {cid for job in jobs for cid in job.conversations}
        states = {}
        missing = []
        cache = self._cache
        for cid in ids:
            row = cache.get(cid)
            if row is None:
                missing.append(cid)
            else:
                states[cid] = ConversationState(dict(row))
        if missing:
            states.update(await _load_states(conn, sorted(missing)))
        return states

    def _remember(self, batch: _Batch) -> None:
        """After a commit: the open conversations as written, for the next batches."""
        if not self.writer.caches_states:
            return
        cache = self._cache
        if batch.conn.wrote_conversations:
            cache.clear()  # a unit changed rows behind its scope: read them again
            return
        for cid, state in batch.states.items():
            if state.is_open:
                cache[cid] = state.row
            else:
                cache.pop(cid, None)

    async def _commit(self, jobs: list[_Job[Any]]) -> None:
        now = self.clock.now()
        async with self.writer.transaction() as conn:
            batch = _Batch(conn, now)
            batch.states = await self._states(conn, jobs)
            for job in jobs:
                scope = Scope(batch, careful=False)
                try:
                    if job.isolated:
                        async with conn.begin_nested():
                            job.result = await job.work(scope)
                    else:
                        job.result = await job.work(scope)
                except Exception as exc:  # the unit's own failure
                    job.error = exc
                    continue
                scope._merge()
            if self.taps and batch.envelopes:
                await self._tap(batch, batch.envelopes, careful=False)
            await _flush(
                self.writer,
                conn,
                now,
                batch.states.values(),
                batch.inserts,
                batch.statements,
            )
        self._committed(batch, len(jobs))

    async def _commit_one_by_one(self, jobs: list[_Job[Any]]) -> None:
        """One transaction, each unit in its own savepoint and written before the next."""
        now = self.clock.now()
        async with self.writer.transaction() as conn:
            batch = _Batch(conn, now)
            batch.states = await self._states(conn, jobs)
            for job in jobs:
                scope = Scope(batch, careful=True)
                try:
                    async with conn.begin_nested():
                        job.result = await job.work(scope)
                        if self.taps and scope._envelopes:
                            await self._tap_unit(scope)
                        inserts: dict[str, list[dict[str, Any]]] = {}
                        for name, row in scope._inserts:
                            inserts.setdefault(name, []).append(row)
                        await _flush(
                            self.writer,
                            conn,
                            now,
                            scope._states.values(),
                            inserts,
                            scope._statements,
                        )
                except Exception as exc:  # this unit's own failure, written or not
                    job.reset()
                    job.error = exc
                    continue
                for state in scope._states.values():
                    state.new = False
                    state.changed.clear()
                scope._merge()
        self._committed(batch, len(jobs))

    async def _tap(self, batch: _Batch, envelopes: list[Envelope], *, careful: bool) -> None:
        tap_scope = Scope(batch, careful=careful)
        for tap in self.taps:
            await tap(tap_scope, list(envelopes))
        if tap_scope._envelopes:
            raise RuntimeError("a journal tap emitted an envelope")
        tap_scope._merge()

    async def _tap_unit(self, scope: Scope) -> None:
        """The taps, for one unit's envelopes, staged in that unit's own scope."""
        envelopes = list(scope._envelopes)
        for tap in self.taps:
            await tap(scope, envelopes)
        if len(scope._envelopes) != len(envelopes):
            raise RuntimeError("a journal tap emitted an envelope")

    def _committed(self, batch: _Batch, units: int) -> None:
        self._remember(batch)
        self.batches += 1
        self.units += units
        envelopes = batch.envelopes
        if self.metrics is not None:
            self.metrics.journal_batch(units=units, envelopes=len(envelopes))
        if envelopes:
            committed = time.monotonic()
            for envelope in envelopes:
                envelope.committed_at = committed
            self.bus.publish(envelopes)
        for callback in batch.callbacks:
            try:
                callback()
            except Exception:
                log.exception("after-commit callback failed")


_TABLES = [t for t in SQLModel.metadata.sorted_tables if t.name != CONVERSATIONS.name]


async def _flush(
    writer: Writer,
    conn: WriteConnection,
    now: datetime,
    states: Iterable[ConversationState],
    inserts: Mapping[str, list[dict[str, Any]]],
    statements: list[sa.Executable],
) -> None:
    """Write new and changed conversations, staged rows (parents first), then statements."""
    new = []
    updates: list[dict[str, Any]] = []
    for state in states:
        if state.new:
            new.append(state.row)
            continue
        if not state.changed:
            continue
        state.set(updated_at=now)
        row = state.row
        changed = {name: row[name] for name in state.changed}
        changed["id"] = state.id
        updates.append(changed)
    if new:
        await writer.insert(conn, CONVERSATIONS, new, now)
    for sorted_table in _TABLES:
        rows = inserts.get(sorted_table.name)
        if rows:
            await writer.insert(conn, sorted_table, rows, now)
    if updates:
        await writer.update(conn, CONVERSATIONS, "id", updates, now)
    for statement in statements:
        await conn.execute(statement)
