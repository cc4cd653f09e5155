"""Fixtures: the real app on SQLite and on the real PostgreSQL, a provider plugin loaded
through a real entry point, and a chatbot client that speaks the v1 API."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from hub.migrate import upgrade
from hub.settings import Settings
from tests.providers.webhook_platform import FakePlatform
from tests.support.chatbot import Chatbot, Hub, start_hub
from tests.support.plugins import write_distribution

# A hang (a task that survives cancellation) stops the run with its task named.
pytest_plugins = ["tests.support.hang"]

PG_SERVER = os.environ.get(
    "OFFLOAD_HUB_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432"
)


@pytest.fixture(scope="session", autouse=True)
def test_plugins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The scripted provider, installed as a distribution with an entry point."""
    root = tmp_path_factory.mktemp("plugins")
    write_distribution(
        root, "offload_hub_test_plugins", {"scripted": "tests.support.scripted:ScriptedProvider"}
    )
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))


# Variables for the test run itself, not settings of the hub under test.
TEST_RUN_VARIABLES = ("OFFLOAD_HUB_TEST_POSTGRES", "OFFLOAD_HUB_SCREENSHOTS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own OFFLOAD_HUB_* variables must not change what tests see."""
    for name in list(os.environ):
        if name.startswith("OFFLOAD_HUB_") and name not in TEST_RUN_VARIABLES:
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _admin(statement: str) -> None:
    engine = create_async_engine(
        f"{PG_SERVER}/postgres", poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run blocking set-up (its own event loop) even when a test's loop is running."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL, migrated once for the session."""
    name = f"offload_hub_test_{uuid.uuid4().hex[:10]}"
    _in_thread(asyncio.run, _admin(f'CREATE DATABASE "{name}"'))
    url = f"{PG_SERVER}/{name}"
    try:
        _in_thread(upgrade, url)
        yield url
    finally:
        _in_thread(asyncio.run, _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            names = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
            await conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    """Every test that takes this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "hub.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    await _truncate(url)
    return url


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "retry_base_seconds": 0.01,
            "retry_max_seconds": 0.05,
            "provider_timeout_seconds": 2.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


HubFactory = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def hub_factory(aiohttp_client: Any, make_settings: Callable[..., Settings]) -> HubFactory:
    async def factory(clock: Any = None, **overrides: Any) -> Hub:
        return await start_hub(aiohttp_client, make_settings(**overrides), clock)

    return factory


ONE_LIVE_PROVIDER = {
    "providers": {"live": {"type": "scripted"}},
    "queues": [{"name": "support", "chain": ["live"]}],
}


@pytest.fixture
async def hub(hub_factory: HubFactory) -> Hub:
    """A hub with one scripted provider instance ("live") in one queue ("support")."""
    return await hub_factory(**ONE_LIVE_PROVIDER)


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    """A real local HTTP server playing an agent platform behind the webhook bridge."""
    platform = await FakePlatform().start()
    yield platform
    await platform.stop()


@pytest.fixture
async def chatbot(hub: Hub) -> AsyncIterator[Chatbot]:
    yield hub.chatbot
