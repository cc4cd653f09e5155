"""Several real ``offload-hub serve`` processes on one PostgreSQL database, as an operator
runs them behind a load balancer, and the clients that use them.

A :class:`Cluster` writes one config file (a bot, a webhook instance pointing at a
:class:`~tests.providers.webhook_platform.FakePlatform`, one queue) and starts processes
from it; a :class:`Follower` is a chatbot that keeps one conversation's WebSocket stream
open, resumes it with ``after`` on whichever process is up when its stream ends, and
records every envelope, so a test can check that nothing was lost or repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.providers.webhook_platform import FakePlatform

BOT_ID = "bot_cluster"
BOT_SECRET = "sk_cluster_" + "c" * 40
EVENTS = "/providers/partner/events"


@dataclass
class HubProcess:
    """One ``python -m offload_hub serve`` with the cluster's config; its output goes to a file."""

    name: str
    config: Path
    workdir: Path
    process: asyncio.subprocess.Process | None = None
    base: str = ""
    port: int = 0

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    async def start(self) -> str:
        env = {
            key: value for key, value in os.environ.items() if not key.startswith("OFFLOAD_HUB_")
        }
        env["OFFLOAD_HUB_CONFIG"] = str(self.config)
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "offload_hub",
                "serve",
                "--port",
                str(self.port),
                env=env,
                cwd=self.workdir,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        banner = ""
        async with asyncio.timeout(60):
            while (found := re.search(r"listening on (http://\S+)", banner)) is None:
                line = await self.process.stdout.readline()
                assert line, f"{self.name} stopped:\n{self.log.read_text()}"
                banner += line.decode()
        self.base = found.group(1).rstrip("/")
        self.port = int(self.base.rsplit(":", 1)[1])  # a restart keeps its address
        return self.base

    async def stop(self) -> int:
        """SIGTERM (a rolling restart): streams get "going away", requests finish."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await self.process.wait()
        self.process = None
        return code

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self.process = None


class Cluster:
    def __init__(
        self,
        workdir: Path,
        database_url: str,
        platform: FakePlatform,
        *,
        redis_url: str | None = None,
        prefix: str = "offload_hub",
        extra: str = "",
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.workdir = workdir
        self.platform = platform
        self.config = workdir / "hub.toml"
        values: dict[str, Any] = {
            "secret_key": "s" * 40,
            **(settings or {}),
            "database_url": database_url,
            "allow_private_urls": True,
            "log_level": "WARNING",
            "log_format": "text",
            "notice_prefix": prefix,
            "retry_base_seconds": 0.05,
            "retry_max_seconds": 0.5,
        }
        if redis_url:
            values["redis_url"] = redis_url
        lines = [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        webhook = platform.config(health_check_seconds=0)
        provider = "\n".join(f"{key} = {json.dumps(value)}" for key, value in webhook.items())
        self.config.write_text(
            "\n".join(lines)
            + f"""

[bots.{BOT_ID}]
name = "Cluster bot"
secret = "{BOT_SECRET}"

[providers.partner]
type = "webhook"
{provider}

[[queues]]
name = "support"
chain = ["partner"]
{extra}
"""
        )
        self.processes: dict[str, HubProcess] = {}

    async def start(self, name: str) -> HubProcess:
        process = self.processes.get(name) or HubProcess(name, self.config, self.workdir)
        self.processes[name] = process
        await process.start()
        return process

    async def close(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                await process.kill()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.log.read_text()}" for p in self.processes.values() if p.log.exists()
        )


async def escalate(session: aiohttp.ClientSession, base: str, session_id: str) -> dict[str, Any]:
    async with session.post(
        f"{base}/v1/escalations",
        json={"sessionId": session_id, "user": {"name": "Jo"}, "inquiry": "Help"},
        headers={"Authorization": f"Bearer {BOT_SECRET}"},
    ) as response:
        answer = await response.json()
        assert response.status == 201, answer
        return answer  # type: ignore[no-any-return]


async def post_event(
    session: aiohttp.ClientSession, base: str, platform: FakePlatform, payload: dict[str, Any]
) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    async with session.post(
        base + EVENTS, data=body, headers=platform.signed_body(body)
    ) as response:
        answer = await response.json()
        assert response.status == 200, answer
        return answer  # type: ignore[no-any-return]


def agent_message(event_id: str, cid: str, text: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "agent.message",
        "conversation": {"id": cid},
        "data": {"text": text, "agent": {"id": "a1", "name": "Ana"}},
    }


@dataclass
class Follower:
    """A chatbot following one conversation on whichever process is up."""

    conversation_id: str
    token: str
    bases: list[str]
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    reconnects: int = 0
    going_away: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @property
    def last(self) -> int:
        return self.envelopes[-1]["seq"] if self.envelopes else 0

    def messages(self) -> list[str]:
        return [
            e["data"]["message"] for e in self.envelopes if e["action"] == "displayChatbotMessage"
        ]

    def start(self, session: aiohttp.ClientSession, first: int = 0) -> None:
        self._task = asyncio.create_task(self._follow(session, first))

    async def _follow(self, session: aiohttp.ClientSession, index: int) -> None:
        while True:
            base = self.bases[index % len(self.bases)]
            url = base.replace("http://", "ws://") + (
                f"/v1/conversations/{self.conversation_id}/events"
            )
            try:
                async with session.ws_connect(
                    url, params={"token": self.token, "after": str(self.last)}
                ) as ws:
                    async for frame in ws:
                        if frame.type != aiohttp.WSMsgType.TEXT:
                            break
                        envelope = json.loads(frame.data)
                        self.envelopes.append(envelope)
                        self._changed.set()
                    if ws.close_code == aiohttp.WSCloseCode.GOING_AWAY:
                        self.going_away += 1
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.05)
            self.reconnects += 1
            index += 1  # the load balancer sends the reconnect elsewhere

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def assert_whole(self) -> None:
        """Seqs from 1 with no gap and no repeat."""
        seqs = [e["seq"] for e in self.envelopes]
        assert seqs == list(range(1, len(seqs) + 1)), seqs
