"""The database engines.

Two engines over one URL: ``writer`` for the journal (on SQLite one connection that takes
the write lock at ``BEGIN IMMEDIATE``, so read-then-write transactions never fail half way)
and ``reader`` for everything that only reads (SQLite in WAL mode lets those run beside
the writer). On PostgreSQL both are ordinary asyncpg pools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


@dataclass(frozen=True)
class Database:
    url: str
    writer: AsyncEngine
    reader: AsyncEngine

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.reader.connect() as conn:
            yield conn

    async def checkpoint(self) -> None:
        """SQLite: move the WAL's pages into the database file (without blocking writers)."""
        if self.is_sqlite:
            async with self.reader.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    async def dispose(self) -> None:
        await self.writer.dispose()
        await self.reader.dispose()


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


def create_database(url: str, *, pool_size: int = 10) -> Database:
    """Build the writer and reader engines for ``url`` (no connection is made yet)."""
    if url.startswith("sqlite"):
        writer = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
        _sqlite_pragmas(writer, immediate=True)
        reader = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
        _sqlite_pragmas(reader, immediate=False)
    else:
        writer = create_async_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True)
        reader = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
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
