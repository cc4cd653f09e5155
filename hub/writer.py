"""The journal's own database connection: one transaction per batch, rows in bulk.

The journal writes through a :class:`Writer`, never through the ORM: a batch's rows are
turned into driver parameters once (each column's SQLAlchemy bind processor, with the
batch's one timestamp processed once) and written with one ``executemany`` per table and
column set. Reads a unit cannot do without still take SQLAlchemy statements.

- :class:`SqliteWriter` keeps one ``sqlite3`` connection and uses it on the event loop's
  own thread: a statement costs microseconds, and a batch pays no hop to a database
  thread (aiosqlite would pay one per statement). It never waits on SQLite's lock inside
  a call: ``BEGIN IMMEDIATE`` fails at once when another connection holds the lock, and
  the writer retries on the loop. It does not checkpoint the WAL on commit (that syncs
  the disk); :meth:`SqliteWriter.checkpoint` does it from a reader's thread instead.
- :class:`PostgresWriter` keeps one asyncpg connection (through SQLAlchemy's pool, so the
  engine's settings and type codecs apply) and writes rows with asyncpg's pipelined
  ``executemany``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import StaticPool

from hub.db import SyncConnection

log = logging.getLogger(__name__)

Processor = Callable[[Any], Any] | None
CONVERSATIONS_TABLE = "conversations"
Rows = list[dict[str, Any]]  # rows of one table, to insert or update


class _RowShape:
    """How rows with one set of columns go into one table (an INSERT, or with ``key`` an
    UPDATE of the row with that key): the SQL and each column's bind processor (the one
    SQLAlchemy itself would apply: ``_cached_bind_processor`` is how its compiled
    statements get it, per dialect)."""

    __slots__ = ("columns", "processors", "sql")

    def __init__(
        self, table: sa.Table, columns: Sequence[str], dialect: Dialect, key: str | None = None
    ) -> None:
        self.columns = (*columns, key) if key is not None else tuple(columns)
        self.processors: tuple[Processor, ...] = tuple(
            table.c[name].type._cached_bind_processor(dialect) for name in self.columns
        )
        if dialect.paramstyle == "qmark":
            marks = ["?" for _ in self.columns]
        else:
            marks = [f"${i}" for i in range(1, len(self.columns) + 1)]
        if key is None:
            names = ", ".join(f'"{name}"' for name in columns)
            self.sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join(marks)})'
        else:
            sets = ", ".join(
                f'"{name}" = {mark}' for name, mark in zip(columns, marks, strict=False)
            )
            self.sql = f'UPDATE "{table.name}" SET {sets} WHERE "{key}" = {marks[-1]}'

    def parameters(
        self, rows: Iterable[Mapping[str, Any]], now: datetime, now_bound: dict[int, Any]
    ) -> list[tuple[Any, ...]]:
        columns = self.columns
        processors = self.processors
        out = []
        for row in rows:
            values = []
            for index, name in enumerate(columns):
                value = row[name]
                processor = processors[index]
                if value is not None and processor is not None:
                    if value is now:
                        # Every row of a batch carries the batch's one timestamp.
                        bound = now_bound.get(index)
                        if bound is None:
                            bound = now_bound[index] = processor(value)
                        value = bound
                    else:
                        value = processor(value)
                values.append(value)
            out.append(tuple(values))
        return out


def _defaults(table: sa.Table) -> dict[str, Any]:
    """Python-side column defaults (scalars and callables), for rows staged without them."""
    return {
        column.name: column.default
        for column in table.columns
        if column.default is not None and (column.default.is_scalar or column.default.is_callable)
    }


class Shapes:
    """The insert shapes of one dialect, built once per table and column set."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._shapes: dict[tuple[str, frozenset[str], str | None], _RowShape] = {}
        self._defaults: dict[str, dict[str, Any]] = {}

    def complete(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Fill the Python-side defaults a staged row left out (as the ORM would)."""
        defaults = self._defaults.get(table.name)
        if defaults is None:
            defaults = self._defaults[table.name] = _defaults(table)
        if not defaults:
            return
        for row in rows:
            for name, default in defaults.items():
                if name not in row:
                    row[name] = default.arg({}) if callable(default.arg) else default.arg

    def group(
        self, table: sa.Table, rows: list[dict[str, Any]], key: str | None = None
    ) -> list[tuple[_RowShape, list[dict[str, Any]]]]:
        """Rows by shape: INSERTs, or UPDATEs by ``key`` of the other columns given."""
        if key is None:
            self.complete(table, rows)
        groups: dict[frozenset[str], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(frozenset(row), []).append(row)
        out = []
        for names, members in groups.items():
            shape = self._shapes.get((table.name, names, key))
            if shape is None:
                ordered = [c.name for c in table.columns if c.name in names and c.name != key]
                shape = _RowShape(table, ordered, self.dialect, key)
                self._shapes[(table.name, names, key)] = shape
            out.append((shape, members))
        return out


class WriteConnection(Protocol):
    """What a unit of work may do with the batch's connection (reads, mostly)."""

    dialect: Dialect
    # Set when a unit wrote the conversations table through the connection itself.
    wrote_conversations: bool

    async def execute(
        self, statement: sa.Executable, parameters: Any = None
    ) -> CursorResult[Any]: ...

    async def scalar(self, statement: sa.Executable, parameters: Any = None) -> Any: ...

    async def scalars(
        self, statement: sa.Executable, parameters: Any = None
    ) -> sa.ScalarResult[Any]: ...

    def begin_nested(self) -> contextlib.AbstractAsyncContextManager[None]: ...


def insert_on_conflict(conn: WriteConnection, table: sa.Table) -> Any:
    """An INSERT into ``table`` that can say what to do with a row already there (the
    dialect's own: ``.on_conflict_do_nothing(...)`` or ``.on_conflict_do_update(...)``)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


class Writer(Protocol):
    """A batch's transaction, from the journal's side."""

    dialect: Dialect
    # Whether the journal may keep the open conversations' rows between batches.
    caches_states: bool

    async def sole_writer(self, conn: WriteConnection) -> bool:
        """Inside a batch's transaction: True when nobody else has written the database
        since this writer's previous transaction (what the journal cached still holds)."""
        ...

    def transaction(self) -> contextlib.AbstractAsyncContextManager[WriteConnection]: ...

    async def insert(
        self, conn: WriteConnection, table: sa.Table, rows: Rows, now: datetime
    ) -> None: ...

    async def update(
        self, conn: WriteConnection, table: sa.Table, key: str, rows: Rows, now: datetime
    ) -> None:
        """Each row (its ``key`` column and the columns to set) updates its row."""
        ...

    async def close(self) -> None: ...


class Unavailable(Exception):
    """The database cannot be written now (locked too long, gone): no unit is to blame."""


# -- SQLite -----------------------------------------------------------------------------------


class _SqliteConnection(SyncConnection):
    """SQLAlchemy statements on the writer's ``sqlite3`` connection, run synchronously."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._savepoints = 0
        # A unit wrote conversations itself (not through its scope's states): what the
        # journal keeps of them is no longer what the database holds.
        self.wrote_conversations = False

    async def execute(self, statement: sa.Executable, parameters: Any = None) -> CursorResult[Any]:
        if isinstance(statement, sa.Insert | sa.Update | sa.Delete) and (
            isinstance(statement.table, sa.TableClause)
            and statement.table.name == CONVERSATIONS_TABLE
        ):
            self.wrote_conversations = True
        return await super().execute(statement, parameters)

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        raw = self._connection.connection.dbapi_connection
        assert raw is not None
        raw.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            raw.execute(f"ROLLBACK TO {name}")
            raw.execute(f"RELEASE {name}")
            raise
        raw.execute(f"RELEASE {name}")


class SqliteWriter:
    """One ``sqlite3`` connection, used on the loop's thread (see the module's docstring)."""

    def __init__(self, path: str, *, lock_timeout: float = 10.0) -> None:
        def connect() -> sqlite3.Connection:
            raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=NORMAL")
            raw.execute("PRAGMA foreign_keys=ON")
            # Never wait for the lock inside a call: that would stop the event loop.
            raw.execute("PRAGMA busy_timeout=0")
            raw.execute("PRAGMA wal_autocheckpoint=0")
            # Room for the hot pages of the tables and indexes a busy hub writes (64 MiB).
            raw.execute("PRAGMA cache_size=-65536")
            return raw

        self._engine = sa.create_engine(
            "sqlite://", creator=connect, poolclass=StaticPool, isolation_level="AUTOCOMMIT"
        )
        self.dialect = self._engine.dialect
        self.shapes = Shapes(self.dialect)
        self.lock_timeout = lock_timeout
        self._connection: Connection | None = None
        self._data_version: int | None = None

    # SQLite tells a connection whether any other connection committed since it last
    # looked: PRAGMA data_version changes only then.
    caches_states = True

    async def sole_writer(self, conn: WriteConnection) -> bool:
        version = self._raw.execute("PRAGMA data_version").fetchone()[0]
        unchanged: bool = version == self._data_version
        self._data_version = version
        return unchanged

    def _open(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    @property
    def _raw(self) -> sqlite3.Connection:
        raw = self._open().connection.dbapi_connection
        assert raw is not None
        return cast(sqlite3.Connection, raw)  # the pysqlite dialect's DBAPI connection

    async def _begin(self) -> None:
        raw = self._raw
        delay = 0.0005
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"the SQLite database stayed locked for {self.lock_timeout:g}s"
                    ) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[WriteConnection]:
        connection = self._open()
        await self._begin()
        raw = self._raw
        try:
            yield _SqliteConnection(connection)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                raw.execute("ROLLBACK")
            raise
        try:
            raw.execute("COMMIT")
        except sqlite3.OperationalError:
            with contextlib.suppress(sqlite3.Error):
                raw.execute("ROLLBACK")
            raise

    async def insert(
        self, conn: WriteConnection, table: sa.Table, rows: Rows, now: datetime
    ) -> None:
        raw = self._raw
        now_bound: dict[int, Any] = {}
        for shape, members in self.shapes.group(table, rows):
            raw.executemany(shape.sql, shape.parameters(members, now, now_bound))

    async def update(
        self, conn: WriteConnection, table: sa.Table, key: str, rows: Rows, now: datetime
    ) -> None:
        raw = self._raw
        now_bound: dict[int, Any] = {}
        for shape, members in self.shapes.group(table, rows, key):
            raw.executemany(shape.sql, shape.parameters(members, now, now_bound))

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()


# -- PostgreSQL -------------------------------------------------------------------------------


class _PostgresConnection:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self.dialect = connection.dialect
        self.wrote_conversations = False  # nothing is kept between batches here

    async def execute(self, statement: sa.Executable, parameters: Any = None) -> CursorResult[Any]:
        return await self._connection.execute(statement, parameters)

    async def scalar(self, statement: sa.Executable, parameters: Any = None) -> Any:
        return await self._connection.scalar(statement, parameters)

    async def scalars(
        self, statement: sa.Executable, parameters: Any = None
    ) -> sa.ScalarResult[Any]:
        return await self._connection.scalars(statement, parameters)

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        async with self._connection.begin_nested():
            yield


class PostgresWriter:
    """The journal's own asyncpg connection, kept between batches."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.dialect = engine.dialect
        self.shapes = Shapes(self.dialect)
        self._connection: AsyncConnection | None = None

    # Other hub processes write the same rows: every batch reads its conversations.
    caches_states = False

    async def sole_writer(self, conn: WriteConnection) -> bool:
        return False

    async def _open(self) -> AsyncConnection:
        if self._connection is None or self._connection.closed:
            self._connection = await self._engine.connect()
        return self._connection

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[WriteConnection]:
        connection = await self._open()
        try:
            async with connection.begin():
                yield _PostgresConnection(connection)
        except (sa.exc.DBAPIError, OSError) as exc:
            if getattr(exc, "connection_invalidated", False) or isinstance(exc, OSError):
                await self._drop()
            raise

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
                await connection.close()

    async def _driver(self) -> Any:
        connection = await self._open()
        raw = await connection.get_raw_connection()
        return raw.driver_connection

    async def insert(
        self, conn: WriteConnection, table: sa.Table, rows: Rows, now: datetime
    ) -> None:
        driver = await self._driver()
        now_bound: dict[int, Any] = {}
        for shape, members in self.shapes.group(table, rows):
            await driver.executemany(shape.sql, shape.parameters(members, now, now_bound))

    async def update(
        self, conn: WriteConnection, table: sa.Table, key: str, rows: Rows, now: datetime
    ) -> None:
        driver = await self._driver()
        now_bound: dict[int, Any] = {}
        for shape, members in self.shapes.group(table, rows, key):
            await driver.executemany(shape.sql, shape.parameters(members, now, now_bound))

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None


def journal_writer(url: str, engine: AsyncEngine) -> Writer:
    """The journal's writer for a database URL (``engine`` serves PostgreSQL's)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("the hub needs an SQLite file, not an in-memory database")
        return SqliteWriter(parsed.database)
    return PostgresWriter(engine)
