"""Fixtures for the dashboard tests: a hub with the desk, and a real Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from tests.conftest import HubFactory
from tests.dashboard.browser import chromium
from tests.dashboard.support import DESK
from tests.support.chatbot import Hub


@pytest.fixture
async def desk_hub(hub_factory: HubFactory) -> Hub:
    return await hub_factory(**DESK)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched
