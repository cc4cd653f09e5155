"""Several hub processes on the real PostgreSQL, with and without Redis (DESIGN section 6).

Each test starts real ``offload-hub serve`` processes and plays the chatbot and the agent
platform from outside: a conversation relayed across two processes, a Redis restart in the
middle of one, both processes restarted one after the other under a steady load, and the
refusal of a second process on one SQLite file. Every test bounds its own run time.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import _truncate
from tests.providers.webhook_platform import FakePlatform, eventually, free_port
from tests.support.cluster import (
    Cluster,
    Follower,
    agent_message,
    escalate,
    post_event,
)

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    platform = await FakePlatform().start()
    yield platform
    await platform.stop()


@pytest.fixture
async def fresh_postgres(postgres_url: str) -> str:
    await _truncate(postgres_url)
    return postgres_url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def cluster_for(
    tmp_path: Path, database: str, platform: FakePlatform, redis_url: str | None
) -> Cluster:
    # A prefix of their own: other test runs may share this Redis.
    prefix = "t_" + secrets.token_hex(6)
    return Cluster(tmp_path, database, platform, redis_url=redis_url, prefix=prefix)


@pytest.mark.parametrize("notices", ["redis", "listen-notify"])
async def test_a_conversation_across_two_processes(
    tmp_path, fresh_postgres, platform, session, notices
):
    cluster = cluster_for(tmp_path, fresh_postgres, platform, REDIS if notices == "redis" else None)
    try:
        async with asyncio.timeout(90):
            a = (await cluster.start("a")).base
            b = (await cluster.start("b")).base
            # The bot escalates through A; its chatbot follows the conversation on B.
            answer = await escalate(session, a, "s-1")
            cid, token = answer["conversationId"], answer["token"]
            await eventually(lambda: bool(platform.of("conversation.opened")))
            chatbot = Follower(cid, token, [b])
            chatbot.start(session)
            await chatbot.wait_for(lambda f: f.last >= answer.get("seq", 1))

            # The platform answers through A: B's stream hears of it at once.
            await post_event(
                session,
                a,
                platform,
                {
                    "id": "j1",
                    "type": "agent.joined",
                    "conversation": {"id": cid},
                    "data": {"agent": {"id": "a1", "name": "Ana"}},
                },
            )
            for n in range(3):
                await post_event(session, a, platform, agent_message(f"m{n}", cid, f"hello {n}"))
            await chatbot.wait_for(lambda f: len(f.messages()) == 3, timeout=10)

            # A long-poll on B wakes up for a message sent through A.
            headers = {"Authorization": f"Bearer {token}"}
            poll = asyncio.create_task(
                session.get(
                    f"{b}/v1/conversations/{cid}/events",
                    params={"after": str(chatbot.last), "wait": "20"},
                    headers=headers,
                )
            )
            await asyncio.sleep(0.3)  # the poll is waiting (it would answer at once otherwise)
            assert not poll.done()
            await post_event(session, a, platform, agent_message("m3", cid, "are you there?"))
            polled = await asyncio.wait_for(poll, 10)
            page = await polled.json()
            assert [e["data"].get("message") for e in page["events"]][-1] == "are you there?"

            # The user writes through B; the platform gets it from whichever process sends.
            async with session.post(
                f"{b}/v1/conversations/{cid}/messages",
                json={"id": "u1", "message": "yes, still here"},
                headers=headers,
            ) as response:
                assert response.status == 201
            await eventually(lambda: bool(platform.of("message.created")))
            assert platform.of("message.created")[0]["data"]["message"]["text"] == (
                "yes, still here"
            )
            await chatbot.wait_for(
                lambda f: any(
                    e["action"] == "updateMessage" and e["data"].get("action") == "SINGLE_TICK"
                    for e in f.envelopes
                )
            )
            await chatbot.stop()
            chatbot.assert_whole()
            assert chatbot.messages() == ["hello 0", "hello 1", "hello 2", "are you there?"]
    except BaseException:
        print(cluster.logs(), file=sys.stderr)
        raise
    finally:
        await cluster.close()


class OwnRedis:
    """A Redis of the test's own, on its own port, that the test may stop and start."""

    def __init__(self, workdir: Path) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is not installed"
        self.port = free_port()
        self.argv = [server, "--port", str(self.port), "--bind", "127.0.0.1"]
        self.argv += ["--save", "", "--appendonly", "no"]
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, cwd=self.workdir, stdout=asyncio.subprocess.DEVNULL
        )

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@pytest.fixture
async def own_redis(tmp_path) -> AsyncIterator[OwnRedis]:
    redis = OwnRedis(tmp_path)
    await redis.start()
    yield redis
    await redis.kill()


async def test_a_redis_restart_mid_conversation_loses_nothing(
    tmp_path, fresh_postgres, platform, session, own_redis
):
    cluster = cluster_for(tmp_path, fresh_postgres, platform, own_redis.url)
    try:
        async with asyncio.timeout(120):
            a = (await cluster.start("a")).base
            b = (await cluster.start("b")).base
            answer = await escalate(session, a, "s-1")
            cid = answer["conversationId"]
            chatbot = Follower(cid, answer["token"], [b])
            chatbot.start(session)
            for n in range(5):
                await post_event(session, a, platform, agent_message(f"m{n}", cid, f"before {n}"))
            await chatbot.wait_for(lambda f: len(f.messages()) == 5)

            await own_redis.kill()  # Redis goes away mid-conversation
            for n in range(5):
                await post_event(session, a, platform, agent_message(f"d{n}", cid, f"during {n}"))
            await own_redis.start()
            # B's subscriber comes back and catches its stream up from the database.
            await chatbot.wait_for(lambda f: len(f.messages()) == 10, timeout=30)
            for n in range(5):
                await post_event(session, a, platform, agent_message(f"a{n}", cid, f"after {n}"))
            await chatbot.wait_for(lambda f: len(f.messages()) == 15, timeout=15)
            await chatbot.stop()
            chatbot.assert_whole()
            expected = [f"{phase} {n}" for phase in ("before", "during", "after") for n in range(5)]
            assert chatbot.messages() == expected
    except BaseException:
        print(cluster.logs(), file=sys.stderr)
        raise
    finally:
        await cluster.close()


async def test_both_processes_restarted_in_turn_under_load_lose_and_repeat_nothing(
    tmp_path, fresh_postgres, platform, session
):
    cluster = cluster_for(tmp_path, fresh_postgres, platform, REDIS)
    try:
        async with asyncio.timeout(180):
            processes = [await cluster.start("a"), await cluster.start("b")]
            bases = [p.base for p in processes]
            chats = []
            for i in range(6):
                answer = await escalate(session, bases[i % 2], f"s-{i}")
                follower = Follower(answer["conversationId"], answer["token"], bases)
                follower.start(session, first=i)
                chats.append(follower)

            sent = {chat.conversation_id: [] for chat in chats}
            stop = asyncio.Event()

            async def platform_load() -> None:
                """A steady stream of agent messages, each retried on the other process
                (with the same event id) while one is down."""
                n = 0
                while not stop.is_set():
                    chat = chats[n % len(chats)]
                    text = f"message {n}"
                    payload = agent_message(f"e{n}", chat.conversation_id, text)
                    for attempt in range(200):
                        base = bases[(n + attempt) % 2]
                        try:
                            await post_event(session, base, platform, payload)
                            break
                        except (aiohttp.ClientError, OSError, AssertionError):
                            await asyncio.sleep(0.02)
                    else:
                        raise AssertionError(f"no process took {payload['id']}")
                    sent[chat.conversation_id].append(text)
                    n += 1
                    await asyncio.sleep(0.01)

            load = asyncio.create_task(platform_load())
            await asyncio.sleep(1.0)
            for process in processes:  # a rolling restart, one process at a time
                assert await process.stop() == 0
                await asyncio.sleep(0.5)
                await process.start()
                await asyncio.sleep(1.0)
            stop.set()
            await load
            for chat in chats:
                expected = sent[chat.conversation_id]
                await chat.wait_for(lambda f, expected=expected: len(f.messages()) >= len(expected))
            for chat in chats:
                await chat.stop()
                chat.assert_whole()
                assert chat.messages() == sent[chat.conversation_id]
            assert sum(len(texts) for texts in sent.values()) > 100
            # The restarts really moved the streams: each process sent "going away".
            assert sum(chat.going_away for chat in chats) >= 2
    except BaseException:
        print(cluster.logs(), file=sys.stderr)
        raise
    finally:
        await cluster.close()


async def test_a_second_process_on_one_sqlite_file_is_refused(tmp_path, platform):
    database = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    cluster = Cluster(tmp_path, database, platform)
    try:
        async with asyncio.timeout(60):
            first = await cluster.start("first")
            second = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hub",
                "serve",
                "--port",
                "0",
                env={"OFFLOAD_HUB_CONFIG": str(cluster.config), "PATH": "/usr/bin:/bin"},
                cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await second.communicate()
            assert second.returncode != 0
            message = err.decode().strip()
            assert "already served by offload-hub" in message
            assert "use PostgreSQL" in message
            assert "Traceback" not in message
            assert len(message.splitlines()) == 1
            # The first one still serves.
            async with (
                aiohttp.ClientSession() as session,
                session.get(first.base + "/healthz") as response,
            ):
                assert response.status == 200
    finally:
        await cluster.close()
