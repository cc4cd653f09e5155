"""Alembic owns the schema: the migrations build exactly the models, on both databases."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import hub.models  # noqa: F401
from hub.migrate import upgrade, upgrade_async
from tests.conftest import PG_SERVER, _admin, _in_thread


async def _differences(url: str) -> list:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
    finally:
        await engine.dispose()


async def test_the_migrated_schema_matches_the_models(database_url):
    assert await _differences(database_url) == []


def _down_and_up(url: str) -> None:
    from alembic import command

    from hub.migrate import alembic_config

    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)


async def test_migrations_run_up_down_and_up_on_sqlite(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await asyncio.to_thread(_down_and_up, url)
    assert await _differences(url) == []
    await upgrade_async(url)  # a second upgrade is a no-op
    assert await _differences(url) == []


async def test_migrations_run_up_down_and_up_on_postgresql():
    name = f"offload_hub_migrations_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = f"{PG_SERVER}/{name}"
        _in_thread(_down_and_up, url)
        assert await _differences(url) == []
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_conversations_messages_are_found_by_index_on_sqlite(tmp_path):
    """messages has no index on conversation_id alone (0011 dropped it: one b-tree less
    written per message); the unique (conversation_id, client_id) index serves instead."""
    path = tmp_path / "plans.db"
    await upgrade_async(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as db:
        indexes = {
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE tbl_name = 'messages' AND type = 'index'"
            )
        }
        assert "ix_messages_conversation_id" not in indexes
        plan = " ".join(
            row[-1]
            for row in db.execute(
                "EXPLAIN QUERY PLAN SELECT id, body FROM messages"
                " WHERE conversation_id = ? AND author = 'user' ORDER BY seq",
                ("c_1",),
            )
        )
    assert "USING INDEX sqlite_autoindex_messages" in plan and "(conversation_id=?)" in plan
