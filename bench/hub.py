"""The hub under test: a real ``offload-hub serve`` process, driven as users drive it.

The bench writes a config file (a bot, a webhook provider instance pointing at the bench's
own small agent platform, one queue), starts the hub pinned to the server core, escalates
conversations through ``POST /v1/escalations`` with the bot's key, and has the platform's
agent join each of them with a signed event. Nothing here reaches into the hub's code.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.procs import Server, free_port, start, wait_ready
from providers.signing import SIGNATURE_HEADER, sign

BOT_ID = "bench"
BOT_SECRET = "sk_bench_" + "b" * 40
PLATFORM_SECRET = "whsec_bench_" + "p" * 32
INSTANCE = "partner"
QUEUE = "support"
DESK_QUEUE = "desk"
POSTGRES_SERVER = os.environ.get(
    "OFFLOAD_HUB_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432"
)


@dataclass
class Platform:
    """The agent platform the webhook provider talks to: it takes every chat it is
    offered (``conversation.opened`` answered 200) and counts what it receives."""

    port: int = field(default_factory=free_port)
    received: dict[str, int] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def _hook(self, request: web.Request) -> web.Response:
        event = json.loads(await request.read())
        kind = event.get("type", "?")
        self.received[kind] = self.received.get(kind, 0) + 1
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def config_text(
    *, database_url: str, port: int, platform_url: str, extra: str = "", redis_url: str = ""
) -> str:
    lines = [
        f'database_url = "{database_url}"',
        f"port = {port}",
        f'secret_key = "{"k" * 40}"',
        "allow_private_urls = true",
        'log_level = "WARNING"',
    ]
    if redis_url:
        lines.append(f'redis_url = "{redis_url}"')
    return (
        "\n".join(lines)
        + f"""

# The bench's load all comes from one address and one bot key: no rate limits here.
[rate_limits]
per_address = {{ per_second = 0, burst = 1 }}
per_bot = {{ per_second = 0, burst = 1 }}
per_conversation = {{ per_second = 0, burst = 1 }}

# Its conversations sit still between runs: no idle warnings or closes in the middle.
[lifecycle]
idle_warning_seconds = 0

[bots.{BOT_ID}]
name = "Bench bot"
secret = "{BOT_SECRET}"

[providers.{INSTANCE}]
type = "webhook"
url = "{platform_url}"
secret = "{PLATFORM_SECRET}"
allow_private_network = true
health_check_seconds = 0
max_event_bytes = 4194304

[providers.desk]
type = "desk"

[[queues]]
name = "{QUEUE}"
chain = ["{INSTANCE}"]

[[queues]]
name = "{DESK_QUEUE}"
chain = ["desk"]
{extra}
"""
    )


@dataclass
class Conversation:
    id: str
    token: str


@dataclass
class HubUnderTest:
    server: Server
    platform: Platform
    conversations: list[Conversation] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.server.base

    def stream_url(self, conversation: Conversation, after: int = 0) -> str:
        base = self.base.replace("http://", "ws://")
        query = f"token={conversation.token}&after={after}"
        return f"{base}/v1/conversations/{conversation.id}/events?{query}"

    def events_url(self, suffix: str = "") -> str:
        return f"{self.base}/providers/{INSTANCE}/events{suffix}"


def signed_headers(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(PLATFORM_SECRET, body)}


def agent_event(
    kind: str, conversation_id: str, data: dict[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": event_id or f"e-{uuid.uuid4().hex}",
        "type": kind,
        "conversation": {"id": conversation_id},
        "data": data,
    }


AGENT = {"id": "agent-1", "name": "Ana"}


async def post_event(session: aiohttp.ClientSession, url: str, event: dict[str, Any]) -> Any:
    body = json.dumps(event).encode()
    async with session.post(url, data=body, headers=signed_headers(body)) as response:
        answer = await response.json()
        if response.status != 200:
            raise RuntimeError(f"the hub refused {event['type']}: {response.status} {answer}")
        return answer


def transcript(items: int) -> list[dict[str, Any]]:
    return [
        {
            "user": "guest" if i % 2 == 0 else "assistant",
            "message": f"Line {i} of what the user and the bot said before the hand-off.",
            "datetime": "2026-11-27T10:00:00Z",
            "id": f"t{i}",
        }
        for i in range(items)
    ]


async def escalate(
    session: aiohttp.ClientSession,
    base: str,
    session_id: str,
    items: int = 2,
    queue: str = QUEUE,
) -> Conversation:
    body = {
        "sessionId": session_id,
        "queue": queue,
        "user": {"name": "Jo", "email": "jo@example.com", "language": "en"},
        "inquiry": "My order is late",
        "transcript": transcript(items),
    }
    async with session.post(
        f"{base}/v1/escalations", json=body, headers={"Authorization": f"Bearer {BOT_SECRET}"}
    ) as response:
        answer = await response.json()
        if response.status not in (200, 201):
            raise RuntimeError(f"escalation refused: {response.status} {answer}")
    return Conversation(answer["conversationId"], answer["token"])


async def start_hub(
    work: Path,
    database_url: str,
    *,
    name: str = "hub",
    extra_config: str = "",
    redis_url: str = "",
    platform: Platform | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
    core: int | None = 0,
) -> HubUnderTest:
    if platform is None:
        platform = Platform()
        await platform.start()
    port = port or free_port()
    config = work / f"{name}.toml"
    config.write_text(
        config_text(
            database_url=database_url,
            port=port,
            platform_url=platform.url,
            extra=extra_config,
            redis_url=redis_url,
        )
    )
    server = start(
        name,
        ["-m", "offload_hub", "serve"],
        port=port,
        log_dir=work,
        env={"OFFLOAD_HUB_CONFIG": str(config), **(env or {})},
        core=core,
    )
    await wait_ready(server, "/readyz", timeout=60)
    return HubUnderTest(server, platform)


async def open_conversations(
    hub: HubUnderTest, count: int, *, join: bool = True, concurrency: int = 20
) -> list[Conversation]:
    """``count`` escalations, each taken by the platform and joined by its agent."""
    prefix = secrets.token_hex(4)
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> Conversation:
            async with semaphore:
                conversation = await escalate(session, hub.base, f"{prefix}-{i}")
                if join:
                    await post_event(
                        session,
                        hub.events_url(),
                        agent_event("agent.joined", conversation.id, {"agent": AGENT}),
                    )
                return conversation

        opened: Sequence[Conversation] = await asyncio.gather(*(one(i) for i in range(count)))
    hub.conversations.extend(opened)
    return list(opened)


class PostgresDatabase:
    """A database of the bench's own on the local PostgreSQL server, dropped at the end."""

    def __init__(self) -> None:
        self.name = f"offload_hub_bench_{secrets.token_hex(4)}"

    @property
    def url(self) -> str:
        server = POSTGRES_SERVER.replace("postgresql://", "postgresql+asyncpg://", 1)
        return f"{server}/{self.name}"

    async def _admin(self, statement: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(f"{POSTGRES_SERVER}/postgres")
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    async def create(self) -> str:
        await self._admin(f'CREATE DATABASE "{self.name}"')
        return self.url

    async def drop(self) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
