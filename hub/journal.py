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
caller gets the exception. A batch that hits a unique constraint (a replayed id racing
its twin) is rolled back and its units run again one per transaction with
``scope.careful`` set, so each can look for the row that beat it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from hub.actions import SDK_ACTIONS, Action
from hub.clock import Clock
from hub.db import Database
from hub.errors import NotFound
from hub.eventbus import Envelope, EventBus
from hub.models import OPEN_STATUSES, Conversation, table

log = logging.getLogger(__name__)

T = TypeVar("T")

CONVERSATIONS = table(Conversation)
# The part of a conversation row a unit may read and change. The transcript and the
# escalation data are written once and read by the snapshot, never on the write path.
STATE_COLUMNS = tuple(c for c in CONVERSATIONS.columns if c.name not in {"transcript", "data"})
_SELECT_STATE = sa.select(*STATE_COLUMNS)
_COLUMN_NAMES = tuple(c.name for c in CONVERSATIONS.columns)


def _defaults() -> dict[str, Any]:
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in Conversation.model_fields.items()
        if not field.is_required()
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
        return self.row["id"]  # type: ignore[no-any-return]

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
        "statements",
        "states",
    )

    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now
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
    def conn(self) -> AsyncConnection:
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
        full = {name: None for name in _COLUMN_NAMES}
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
        seq = conversation["last_seq"] + 1
        conversation.set(last_seq=seq)
        data_json = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
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
        self._envelopes.append(Envelope(conversation.id, seq, now, action, data_json))
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


async def _load_states(conn: AsyncConnection, ids: list[str]) -> dict[str, ConversationState]:
    query = _SELECT_STATE.where(CONVERSATIONS.c.id.in_(ids)).order_by(CONVERSATIONS.c.id)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    result = await conn.execute(query)
    return {row.id: ConversationState(dict(row._mapping)) for row in result}


class Journal:
    """Runs units of work in grouped transactions and publishes what they emitted."""

    def __init__(
        self, database: Database, bus: EventBus, clock: Clock, *, max_batch: int = 500
    ) -> None:
        self.database = database
        self.bus = bus
        self.clock = clock
        self.max_batch = max_batch
        self._queue: list[_Job[Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches = 0
        self.units = 0
        # Taps see every batch's envelopes before it is written and may stage rows in the
        # same transaction (a bot's callback deliveries, say). They must not emit.
        self.taps: list[Callable[[Scope, list[Envelope]], Awaitable[None]]] = []

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="journal")

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
        if self._closing:
            raise RuntimeError("the journal is stopping")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # A caller that gave up (a dropped request) does not stop the work; its outcome
        # is still retrieved here so an error is never reported as unhandled.
        future.add_done_callback(_retrieve)
        self._queue.append(_Job(work, tuple(conversations), future, isolated))
        self._wake.set()
        return await asyncio.shield(future)

    async def _loop(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            jobs, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            await self._process(jobs)

    async def _process(self, jobs: list[_Job[Any]]) -> None:
        try:
            await self._commit(jobs, careful=False)
        except IntegrityError:
            # Someone (a replay, another process) wrote a row this batch also wrote. Run
            # each unit alone and carefully, so only the one that really conflicts fails.
            for job in jobs:
                job.reset()
                try:
                    await self._commit([job], careful=True)
                except Exception as exc:  # handed to the caller
                    job.error = exc
                job.settle()
            return
        except Exception as exc:  # the database failed: tell every caller
            log.exception("journal batch of %d units failed", len(jobs))
            for job in jobs:
                job.error = exc
                job.settle()
            return
        for job in jobs:
            job.settle()

    async def _commit(self, jobs: list[_Job[Any]], *, careful: bool) -> None:
        batch_envelopes: list[Envelope]
        async with self.database.writer.connect() as conn:
            async with conn.begin():
                batch = _Batch(conn, self.clock.now())
                ids = sorted({cid for job in jobs for cid in job.conversations})
                if ids:
                    batch.states = await _load_states(conn, ids)
                for job in jobs:
                    scope = Scope(batch, careful=careful)
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
                    tap_scope = Scope(batch, careful=careful)
                    for tap in self.taps:
                        await tap(tap_scope, list(batch.envelopes))
                    if tap_scope._envelopes:
                        raise RuntimeError("a journal tap emitted an envelope")
                    tap_scope._merge()
                await _flush(conn, batch)
            batch_envelopes = batch.envelopes
        self.batches += 1
        self.units += len(jobs)
        if batch_envelopes:
            self.bus.publish(batch_envelopes)
        for callback in batch.callbacks:
            try:
                callback()
            except Exception:
                log.exception("after-commit callback failed")


_UPDATE_CACHE: dict[frozenset[str], sa.Update] = {}


def _update_statement(columns: frozenset[str]) -> sa.Update:
    statement = _UPDATE_CACHE.get(columns)
    if statement is None:
        statement = (
            sa.update(CONVERSATIONS)
            .where(CONVERSATIONS.c.id == sa.bindparam("b_id"))
            .values({name: sa.bindparam("b_" + name) for name in sorted(columns)})
        )
        _UPDATE_CACHE[columns] = statement
    return statement


async def _flush(conn: AsyncConnection, batch: _Batch) -> None:
    new = [state.row for state in batch.states.values() if state.new]
    if new:
        await conn.execute(sa.insert(CONVERSATIONS), new)
    updates: dict[frozenset[str], list[dict[str, Any]]] = {}
    for state in batch.states.values():
        if state.new or not state.changed:
            continue
        state.set(updated_at=batch.now)
        columns = frozenset(state.changed)
        params = {"b_" + name: state.row[name] for name in columns}
        params["b_id"] = state.id
        updates.setdefault(columns, []).append(params)
    for sorted_table in SQLModel.metadata.sorted_tables:
        rows = batch.inserts.get(sorted_table.name)
        if rows:
            await conn.execute(sa.insert(sorted_table), rows)
    for columns, params in updates.items():
        await conn.execute(_update_statement(columns), params)
    for statement in batch.statements:
        await conn.execute(statement)
