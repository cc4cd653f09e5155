"""Fixtures for the end-to-end tests: a hub with the demo page mounted, and a real Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser

from hub import keys
from hub.demo import DEMO_BOT_ID, ensure_demo_agent, ensure_demo_bot, mount_demo
from hub.settings import Settings
from offload_hub.app import create_app
from tests.dashboard.browser import chromium


@dataclass
class DemoHub:
    app: web.Application
    client: TestClient
    base: str  # http://127.0.0.1:PORT
    agent_password: str

    @property
    def demo_url(self) -> str:
        return f"{self.base}/demo/"

    @property
    def dashboard_url(self) -> str:
        return f"{self.base}/dashboard/"


async def start_demo_hub(
    aiohttp_client: Any, settings: Settings, *, other_origins: tuple[str, ...] = ()
) -> DemoHub:
    """What ``offload-hub demo`` runs, on a test server: the demo page, the demo bot allowed
    from the server's origin (and ``other_origins``) and the demo agent."""
    app = create_app(settings)
    mount_demo(app, DEMO_BOT_ID)
    client: TestClient = await aiohttp_client(app)
    await asyncio.wait_for(app[keys.LIFECYCLE].caught_up.wait(), 10)
    base = str(client.make_url("/")).rstrip("/")
    await ensure_demo_bot(app[keys.BOT_REGISTRY], [base, *other_origins])
    password = await ensure_demo_agent(app[keys.AGENTS])
    return DemoHub(app, client, base, password)


@pytest.fixture
async def demo_hub(aiohttp_client: Any, make_settings: Callable[..., Settings]) -> DemoHub:
    """The demo with no config: the desk in one default queue, as ``offload-hub demo``."""
    return await start_demo_hub(aiohttp_client, make_settings())


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched
