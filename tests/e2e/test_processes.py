"""Several hub processes on the real PostgreSQL, with and without Redis (DESIGN section 6).

Each test starts real ``offload-hub serve`` processes and plays the chatbot and the agent
platform from outside: a conversation relayed across two processes, a Redis restart in the
middle of one, both processes restarted one after the other under a steady load, and the
refusal of a second process on one SQLite file. Every test bounds its own run time.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import sys
import tomllib
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
from tests.support.waiting import until

REDIS = "redis://127.0.0.1:6379/0"


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

            async def more(count: int) -> None:
                """Wait until the load has sent ``count`` more messages."""
                target = sum(map(len, sent.values())) + count
                await until(lambda: load.done() or sum(map(len, sent.values())) >= target, 60)
                if load.done():
                    await load  # it failed: say why

            await more(50)
            for process in processes:  # a rolling restart, one process at a time
                assert await process.stop() == 0
                await more(25)  # taken by the other process meanwhile
                await process.start()
                await more(50)
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
                "offload_hub",
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


def _guide_block(name: str) -> str:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text()
    found = re.search(rf"<!-- checked: {re.escape(name)} -->\s*```\w+\n(.*?)```", guide, re.S)
    assert found, f"no checked block {name!r} in the operator guide"
    return found.group(1)


async def _nginx(workdir: Path, listen: int, upstreams: list[int]) -> asyncio.subprocess.Process:
    """The guide's nginx configuration, on local ports and without TLS."""
    server = shutil.which("nginx") or "/usr/sbin/nginx"
    site = _guide_block("nginx.conf")
    addresses = iter(upstreams)
    site = re.sub(
        r"server 10\.0\.1\.\d+:8080", lambda _: f"server 127.0.0.1:{next(addresses)}", site
    )
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen};")
    assert next(addresses, None) is None, "the guide's upstream has not two servers"
    temp = workdir / "nginx"
    temp.mkdir()
    config = temp / "nginx.conf"
    paths = " ".join(
        f"{kind}_temp_path {temp}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config.write_text(
        f"daemon off;\npid {temp}/nginx.pid;\nerror_log {temp}/error.log warn;\n"
        f"events {{}}\nhttp {{\n access_log off;\n {paths}\n{site}\n}}\n"
    )
    process = await asyncio.create_subprocess_exec(
        server, "-c", str(config), "-p", str(temp), stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(10):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", listen)
                writer.close()
                return process
            except OSError:
                assert process.returncode is None, (temp / "error.log").read_text()
                await asyncio.sleep(0.05)


async def test_the_guides_settings_and_load_balancer_carry_a_conversation_through_restarts(
    tmp_path, fresh_postgres, platform, session
):
    """The operator guide's cluster settings and nginx example, as written (local
    addresses aside): a conversation relayed through the balancer while each process
    restarts in turn."""
    settings = tomllib.loads(_guide_block("cluster.toml"))
    listen = free_port()
    lb = f"http://127.0.0.1:{listen}"
    settings.update(public_url=lb, trusted_proxies=["127.0.0.1/32"])
    cluster = Cluster(
        tmp_path,
        fresh_postgres,
        platform,
        redis_url=REDIS,
        prefix="t_" + secrets.token_hex(6),
        settings=settings,
    )
    nginx = None
    try:
        async with asyncio.timeout(150):
            processes = [await cluster.start("a"), await cluster.start("b")]
            nginx = await _nginx(tmp_path, listen, [p.port for p in processes])
            answer = await escalate(session, lb, "s-1")
            cid = answer["conversationId"]
            await eventually(lambda: bool(platform.of("conversation.opened")))
            # The platform is told to post its events to the balancer's address.
            callback = platform.of("conversation.opened")[0]["data"]["callbackUrl"]
            assert callback == f"{lb}/providers/partner/events"
            chatbot = Follower(cid, answer["token"], [lb])
            chatbot.start(session)
            sent = []

            async def say(n: int) -> None:
                text = f"through the balancer {n}"
                for _ in range(200):
                    try:
                        await post_event(session, lb, platform, agent_message(f"lb{n}", cid, text))
                        break
                    except (aiohttp.ClientError, OSError, AssertionError):
                        await asyncio.sleep(0.05)
                else:
                    raise AssertionError(f"the balancer took no {text!r}")
                sent.append(text)

            for n in range(5):
                await say(n)
            for index, process in enumerate(processes):
                assert await process.stop() == 0
                for n in range(5 + 10 * index, 10 + 10 * index):
                    await say(n)  # one process down: the balancer sends all to the other
                await process.start()
                for n in range(10 + 10 * index, 15 + 10 * index):
                    await say(n)
                await asyncio.sleep(2.5)  # the guide's fail_timeout: nginx tries it again
            try:
                await chatbot.wait_for(lambda f: len(f.messages()) == len(sent), timeout=30)
            finally:
                print("received:", chatbot.messages(), chatbot.reconnects, file=sys.stderr)
            await chatbot.stop()
            chatbot.assert_whole()
            assert chatbot.messages() == sent
            assert chatbot.going_away >= 1  # its stream's process did restart under it
    except BaseException:
        print(cluster.logs(), file=sys.stderr)
        raise
    finally:
        if nginx is not None and nginx.returncode is None:
            nginx.terminate()
            await nginx.wait()
        await cluster.close()
