"""Fixtures for the dashboard tests: a hub with the desk, and a real Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from playwright.async_api import Browser

from tests.conftest import HubFactory
from tests.dashboard.browser import chromium
from tests.dashboard.support import DESK, AgentSession, add_agent, agent_session
from tests.hub.test_callbacks import Receiver
from tests.providers.smtp_server import MailServer, mail_server
from tests.support.chatbot import Hub

OpenSession = Callable[..., Awaitable[AgentSession]]


@pytest.fixture
async def desk_hub(hub_factory: HubFactory) -> Hub:
    return await hub_factory(**DESK)


@pytest.fixture
async def ana(desk_hub: Hub) -> AsyncIterator[AgentSession]:
    """Ana, an agent of the desk hub, signed in (over HTTP, no browser)."""
    await add_agent(desk_hub, "Ana")
    session = await agent_session(desk_hub.client)
    await session.sign_in("ana@example.com")
    yield session
    await session.close()


@pytest.fixture
async def plain() -> AsyncIterator[MailServer]:
    """A real SMTP server without TLS or authentication, for the email provider."""
    async with mail_server("none") as server:
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A bot's callback endpoint on 127.0.0.1."""
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def browsers() -> AsyncIterator[OpenSession]:
    """HTTP sessions with their own cookies against a hub: ``await browsers(hub)``, or
    ``await browsers(hub, email)`` to have it signed in; all closed after the test."""
    opened: list[AgentSession] = []

    async def open_session(hub: Hub, email: str | None = None) -> AgentSession:
        session = await agent_session(hub.client)
        opened.append(session)
        if email is not None:
            await session.sign_in(email)
        return session

    yield open_session
    for session in opened:
        await session.close()
