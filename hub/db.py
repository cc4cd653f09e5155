"""The database engines.

Two engines over one URL. The hub writes only through its journal (:mod:`hub.writer`):
on PostgreSQL the journal's connection comes from the ``writer`` pool; on SQLite the
journal keeps a connection of its own, and the ``writer`` engine (one connection, taking
the write lock at ``BEGIN IMMEDIATE``) serves only tests that arrange rows. ``reader``
serves everything that only reads (SQLite in WAL mode lets reads run beside the writer);
on PostgreSQL it is an ordinary asyncpg pool.

Two ways to read: :meth:`Database.read` for any read, and :meth:`Database.lookup` for the
small, indexed reads of the request path (a conversation by id, a bot by key). On SQLite a
lookup runs on the event loop's own thread, on a read-only connection: it takes tens of
microseconds, where a trip to aiosqlite's thread and back costs ten times that. Reports,
lists and anything that scans use ``read``, which never holds the loop.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool


@dataclass(frozen=True)
class Database:
    url: str
    writer: AsyncEngine
    reader: AsyncEngine

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    lookups: SyncReader | None = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[Any]:
        """A connection for a small, indexed read (see the module's docstring); it has the
        same ``execute``/``scalar``/``scalars`` as ``read()``'s."""
        if self.lookups is None:
            async with self.reader.connect() as conn:
                yield conn
        else:
            yield self.lookups.connection()

    async def checkpoint(self) -> None:
        """SQLite: move the WAL's pages into the database file (without blocking writers).
        Nothing is done when nothing was committed since the last time (an idle hub)."""
        if self.is_sqlite:
            if self.lookups is not None and not self.lookups.written_since():
                return
            async with self.reader.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    async def dispose(self) -> None:
        await self.writer.dispose()
        await self.reader.dispose()
        if self.lookups is not None:
            self.lookups.close()


class SyncConnection:
    """SQLAlchemy statements on a synchronous connection, behind the async methods the
    store's functions call (they run at once: nothing is awaited)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection
        self.dialect = connection.dialect

    async def execute(
        self, statement: sa.Executable, parameters: Any = None
    ) -> sa.CursorResult[Any]:
        return self._connection.execute(statement, parameters)

    async def scalar(self, statement: sa.Executable, parameters: Any = None) -> Any:
        return self._connection.scalar(statement, parameters)

    async def scalars(
        self, statement: sa.Executable, parameters: Any = None
    ) -> sa.ScalarResult[Any]:
        return self._connection.scalars(statement, parameters)


class SyncReader:
    """SQLite: one read-only connection, used on the event loop's thread."""

    def __init__(self, url: str) -> None:
        path = sa.engine.make_url(url).database

        def connect() -> sqlite3.Connection:
            assert path is not None, "a SQLite URL names its file"
            raw = sqlite3.connect(path, check_same_thread=False)
            raw.execute("PRAGMA query_only=ON")
            return raw

        self._engine = sa.create_engine(
            "sqlite://", creator=connect, poolclass=StaticPool, isolation_level="AUTOCOMMIT"
        )
        self._connection: sa.Connection | None = None
        self._seen_version: int | None = None

    def _raw(self) -> sa.Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def written_since(self) -> bool:
        """Whether another connection committed since this was last asked (SQLite's
        ``PRAGMA data_version``); True the first time."""
        version = self._raw().exec_driver_sql("PRAGMA data_version").scalar()
        changed = version != self._seen_version
        self._seen_version = version
        return changed

    def connection(self) -> SyncConnection:
        return SyncConnection(self._raw())

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()


def _sqlite_pragmas(engine: AsyncEngine, *, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if immediate:
            # Let SQLAlchemy emit BEGIN itself (below) instead of the driver's implicit one.
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    if immediate:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def database_unavailable(error: BaseException | None) -> bool:
    """The database cannot be reached now, or a connection to it was found lost (the pool
    replaces it): the caller may try again."""
    return isinstance(error, sa.exc.OperationalError | sa.exc.TimeoutError) or (
        isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated
    )


def _ping_when_idle(engine: AsyncEngine, after: float) -> None:
    """Ping a pooled connection before use only when it has been idle ``after`` seconds.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a trip to the server before
    every read (5-7% of the hub's CPU for an agent's message on the dashboard's socket,
    measured). A connection given back a moment ago is alive; the dead ones a pool keeps
    are those left idle (a restarted server, a proxy's idle timeout), and those are
    pinged. A connection lost while in use fails the read that finds it (the API answers
    503) and makes the pool replace every connection it made before then, as a failed
    ping does."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _given_back(dbapi_connection: Any, record: Any) -> None:
        record.info["given_back"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _taken(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        given_back = record.info.get("given_back")  # none: a connection just made
        if given_back is None or time.monotonic() - given_back < after:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            raise sa.exc.InvalidatePoolError("a pooled connection was found dead") from exc


def create_database(url: str, *, pool_size: int = 10, ping_after: float = 10.0) -> Database:
    """Build the writer and reader engines for ``url`` (no connection is made yet);
    ``pool_size``: PostgreSQL connections for reads (SQLite's reads run on the loop's
    connection or, for larger ones, up to twice that many of aiosqlite's threads);
    ``ping_after``: PostgreSQL read connections idle that long are pinged before use."""
    if url.startswith("sqlite"):
        writer = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
        _sqlite_pragmas(writer, immediate=True)
        reader = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
        _sqlite_pragmas(reader, immediate=False)
        return Database(url=url, writer=writer, reader=reader, lookups=SyncReader(url))
    else:
        writer = create_async_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True)
        # Reads are single statements: without a transaction around each, a read is one
        # trip to the server instead of three (BEGIN, the query, the ROLLBACK at release).
        # No overflow: a connection over the pool's size is closed when it is given back,
        # so under more concurrent reads than that every read connected anew (a backend
        # process forked on the server, a TLS offer, a login); reads wait for one of the
        # pool's instead. Nothing holds a read connection while it waits for another
        # (tests/hub/test_db.py reads the code for it), so the wait cannot deadlock.
        reader = create_async_engine(
            url, pool_size=pool_size, max_overflow=0, isolation_level="AUTOCOMMIT"
        )
        _ping_when_idle(reader, ping_after)
    return Database(url=url, writer=writer, reader=reader)


def postgres_dsn(url: str) -> str:
    """A PostgreSQL URL as asyncpg itself takes it (for a connection of its own)."""
    return (
        sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def create_oneshot_engine(url: str) -> AsyncEngine:
    """An engine without pooling, for the CLI and migrations."""
    engine = create_async_engine(url, poolclass=NullPool)
    if url.startswith("sqlite"):
        _sqlite_pragmas(engine, immediate=False)
    return engine
