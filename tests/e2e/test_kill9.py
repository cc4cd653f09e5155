"""kill -9 of a real ``offload-hub serve`` under concurrent senders, on SQLite and
PostgreSQL: every user message sent (and retried with its client id until answered) is
stored exactly once, the log has no gap, and followers on Server-Sent Events and on
long-poll that resume after the crash (``Last-Event-ID``, ``after=``) see every envelope
once, in order. (Deliveries to the provider that the killed process had leased are taken
up again when their lease runs out: ticks keep coming after the test's snapshot.)"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.providers.webhook_platform import eventually

TIME_LIMIT = 180
CONVERSATIONS = 4
MESSAGES = 30  # per conversation, sent one after the other by its own sender
SECRET = "sk_kill9-test-secret-0123456789abcdef"
CONFIG = f"""
retry_base_seconds = 0.05
retry_max_seconds = 0.5

[providers.live]
type = "scripted"

[[queues]]
name = "support"
chain = ["live"]

[bots.load-bot]
name = "Load bot"
secret = "{SECRET}"

[lifecycle]
position_refresh_seconds = 3600
idle_warning_seconds = 0

[rate_limits]
per_address = {{ per_second = 0, burst = 1 }}
per_bot = {{ per_second = 0, burst = 1 }}
per_conversation = {{ per_second = 0, burst = 1 }}
"""
RETRYABLE = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)
HEADERS = {"Authorization": f"Bearer {SECRET}"}


class Hub:
    """One ``offload-hub serve`` process at a time, on one port."""

    def __init__(self, env: dict[str, str], cwd: Path, config: Path) -> None:
        self.env, self.cwd, self.config = env, cwd, config
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "offload_hub",
            "--config",
            str(self.config),
            "serve",
            "--port",
            str(self.port),
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        banner = ""
        while (found := re.search(r"listening on http://127\.0\.0\.1:(\d+)", banner)) is None:
            line = await self.process.stdout.readline()
            assert line, f"serve stopped: {banner}"
            banner += line.decode()
        self.port = int(found.group(1))
        asyncio.get_running_loop().create_task(self.process.stdout.read())  # drain the rest

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 15)


async def call(session: aiohttp.ClientSession, hub: Hub, method: str, path: str, **kw: Any):
    """Call until the hub answers (it may be dead or starting); the answer's JSON."""
    while True:
        try:
            async with session.request(method, hub.base + path, **kw) as response:
                if response.status < 500:
                    data = await response.json()
                    assert response.status < 400, (response.status, data)
                    return data
        except RETRYABLE:
            pass
        await asyncio.sleep(0.05)  # a retry's pause, not a synchronisation


async def send_all(session, hub: Hub, conversation: dict, sent: list[str]) -> None:
    cid = conversation["conversationId"]
    headers = {"Authorization": f"Bearer {conversation['token']}"}
    for n in range(MESSAGES):
        client_id = f"{cid}-m{n}"
        await call(
            session,
            hub,
            "POST",
            f"/v1/conversations/{cid}/messages",
            json={"id": client_id, "message": f"message {n}"},
            headers=headers,
        )
        sent.append(client_id)


async def follow_sse(session, hub: Hub, conversation: dict, seen: list[int], done: asyncio.Event):
    cid = conversation["conversationId"]
    last = 0
    while not done.is_set():
        headers = {
            "Accept": "text/event-stream",
            "Authorization": f"Bearer {conversation['token']}",
        }
        if last:
            headers["Last-Event-ID"] = str(last)
        try:
            async with session.get(
                f"{hub.base}/v1/conversations/{cid}/events", headers=headers
            ) as response:
                event_id = None
                async for raw in response.content:
                    line = raw.decode().rstrip("\r\n")
                    if line.startswith("id:"):
                        event_id = int(line[3:].strip())
                    elif line.startswith("data:"):
                        envelope = json.loads(line[5:].strip())
                        assert envelope["seq"] == event_id
                        seen.append(envelope["seq"])
                        last = envelope["seq"]
                    if done.is_set():
                        return
        except RETRYABLE:
            pass
        await asyncio.sleep(0.05)


async def follow_poll(session, hub: Hub, conversation: dict, seen: list[int], done: asyncio.Event):
    cid = conversation["conversationId"]
    last = 0
    while not done.is_set():
        try:
            async with session.get(
                f"{hub.base}/v1/conversations/{cid}/events",
                params={"after": last, "wait": 1, "token": conversation["token"]},
            ) as response:
                if response.status == 200:
                    page = await response.json()
                    seen.extend(envelope["seq"] for envelope in page["events"])
                    last = page["next"]
                    continue
        except RETRYABLE:
            pass
        await asyncio.sleep(0.05)


async def whole_log(session, hub: Hub, cid: str) -> list[dict]:
    page = await call(
        session,
        hub,
        "GET",
        f"/v1/conversations/{cid}/events",
        params={"after": 0, "limit": 1000},
        headers=HEADERS,
    )
    return page["events"]


def stored_ids(log: list[dict]) -> list[str]:
    return [
        e["data"]["id"]
        for e in log
        if e["action"] == "updateMessage" and e["data"].get("action") == "UPDATE_EXTERNAL"
    ]


async def test_kill_9_under_concurrent_senders_loses_and_repeats_nothing(
    database_url, tmp_path, test_plugins
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFLOAD_HUB_")}
    env["OFFLOAD_HUB_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join([str(test_plugins), str(Path(__file__).parents[2])])
    config = tmp_path / "hub.toml"
    config.write_text(CONFIG)
    hub = Hub(env, tmp_path, config)
    async with asyncio.timeout(TIME_LIMIT), aiohttp.ClientSession() as session:
        await hub.start()
        try:
            conversations = [
                await call(
                    session,
                    hub,
                    "POST",
                    "/v1/escalations",
                    json={"sessionId": f"s{n}"},
                    headers=HEADERS,
                )
                for n in range(CONVERSATIONS)
            ]
            done = asyncio.Event()
            sse: list[list[int]] = [[] for _ in conversations]
            polled: list[list[int]] = [[] for _ in conversations]
            sent: list[list[str]] = [[] for _ in conversations]
            followers = [
                asyncio.create_task(follow(session, hub, conversation, seen, done))
                for follow, seen_lists in ((follow_sse, sse), (follow_poll, polled))
                for conversation, seen in zip(conversations, seen_lists, strict=True)
            ]
            senders = [
                asyncio.create_task(send_all(session, hub, conversation, mine))
                for conversation, mine in zip(conversations, sent, strict=True)
            ]
            # Mid-stream, while every sender is writing: kill -9, then start it again.
            await eventually(lambda: sum(map(len, sent)) >= CONVERSATIONS * MESSAGES // 3)
            await hub.kill()
            await hub.start()
            await asyncio.gather(*senders)

            logs = []
            for conversation, mine in zip(conversations, sent, strict=True):
                cid = conversation["conversationId"]
                log = await whole_log(session, hub, cid)
                assert [e["seq"] for e in log] == list(range(1, len(log) + 1))  # no gap
                ids = stored_ids(log)
                assert sorted(ids) == sorted(mine), "a message was lost or stored twice"
                assert len(set(ids)) == len(ids) == MESSAGES
                logs.append(log)

            # The followers resumed where they were: every seq once, in order.
            for seen_lists in (sse, polled):
                for seen, log in zip(seen_lists, logs, strict=True):
                    await eventually(lambda seen=seen, log=log: len(seen) >= len(log))
                    assert seen[: len(log)] == [e["seq"] for e in log]
                    assert len(set(seen)) == len(seen)
            done.set()
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
        finally:
            await hub.stop()
