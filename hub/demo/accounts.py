"""The demo's bot and agent: created the first time, brought up to date every time."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from hub.agents.accounts import AgentAccounts, normal_email
from hub.agents.bots import BotRegistry
from hub.clock import Clock
from hub.db import create_database
from hub.settings import BotSettings, Settings
from hub.standalone import standalone_journal

DEMO_BOT_ID = "demo"
DEMO_BOT_NAME = "offload-hub demo bot"
DEMO_AGENT_EMAIL = "agent@demo.example"
DEMO_AGENT_NAME = "Ana"


@dataclass(frozen=True)
class DemoAccess:
    bot_id: str
    origins: list[str]
    agent_email: str
    agent_password: str


def demo_origins(base_url: str) -> list[str]:
    """The hub's own origin, and the same port on the other name of the loopback."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    origins = [origin]
    host, port = parts.hostname or "", parts.port
    twins = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}
    if host in twins:
        origins.append(f"{parts.scheme}://{twins[host]}" + (f":{port}" if port else ""))
    return origins


async def ensure_demo_bot(bots: BotRegistry, origins: list[str]) -> None:
    """The demo bot, by its fixed id, allowed from ``origins`` (updated when the port moves)."""
    declared = BotSettings(name=DEMO_BOT_NAME, allowed_origins=origins)
    await bots.sync_config({DEMO_BOT_ID: declared})


async def ensure_demo_agent(accounts: AgentAccounts) -> str:
    """The demo agent, with a fresh password (returned: shown once, stored as a hash)."""
    password = secrets.token_urlsafe(12)
    email = normal_email(DEMO_AGENT_EMAIL)
    existing = next((a for a in await accounts.all() if a.email == email), None)
    if existing is None:
        await accounts.create(email, DEMO_AGENT_NAME, password, languages=[])
    else:
        await accounts.reset_password(existing.id, password)
        if existing.disabled:
            await accounts.set_disabled(existing.id, False)
    return password


async def prepare_demo(settings: Settings) -> DemoAccess:
    """Make the demo bot and agent exist in the (migrated) database of ``settings``."""
    clock = Clock()
    origins = demo_origins(settings.public_base_url)
    database = create_database(settings.database_url)
    try:
        async with standalone_journal(database, clock) as journal:
            await ensure_demo_bot(BotRegistry(database, journal), origins)
            password = await ensure_demo_agent(AgentAccounts(database, journal))
    finally:
        await database.dispose()
    return DemoAccess(DEMO_BOT_ID, origins, DEMO_AGENT_EMAIL, password)
