"""The benchmark suite: ``make bench`` (``python -m bench``).

Runs, on this machine, the hub beside its baselines in the same run (DESIGN section 9):

- relay: agent messages through each agent ingress of the hub (one signed POST per event,
  a signed batch POST, the platform WebSocket, the dashboard's socket) to chatbot
  WebSocket streams, beside a bare aiohttp WebSocket relay, a bare aiohttp
  HTTP-in/WebSocket-out relay and a python-socketio relay, interleaved, twice;
- latency at an offered 1,000 messages/s, and CPU per message at 100 messages/s (the bare
  WebSocket relay beside both);
- escalations per second with a 20-item transcript;
- a reconnect storm of 5,000 streams after a restart;
- memory per idle stream at 1k, 5k and 10k streams, beside bare aiohttp (SQLite run);
- a two-process run on PostgreSQL with Redis (ingress on one process, streams on the other).

Servers are separate processes pinned to core 0, this load client to the other cores. The
main figure is the server's CPU time per message, from the OS. Results go to
``bench/results/{sqlite,postgresql}.json`` and the README's table (:mod:`bench.report`).
Every run checks itself (nothing lost, repeated or out of order), and a failed check
fails the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import resource
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import report
from bench.desk import Agent, add_agent
from bench.escalations import escalations
from bench.hub import (
    DESK_QUEUE,
    Conversation,
    HubUnderTest,
    Platform,
    PostgresDatabase,
    escalate,
    open_conversations,
    start_hub,
)
from bench.ingress import (
    BareHttp,
    BareWebSocket,
    DashboardSocket,
    HubBatch,
    HubPost,
    HubStream,
    SocketIoIngress,
)
from bench.memory import idle_streams
from bench.procs import CORES, ROOT, Server, free_port, pin_client, start, wait_ready
from bench.relay import Target, bare_target, hub_target, offered, saturate, socketio_target
from bench.storm import storm

RESULTS = ROOT / "bench" / "results"
REDIS = "redis://127.0.0.1:6379/0"
CONVERSATIONS = 100  # streams in the relay runs
DESK_CHATS = 50  # an agent takes at most 50 chats


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": CORES,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def _raise_file_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Suite:
    def __init__(self, work: Path, quick: bool) -> None:
        self.work = work
        self.quick = quick
        self.failures: list[str] = []

    def scale(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def checked(self, name: str, result: dict[str, Any]) -> dict[str, Any]:
        if not result.get("correct", True):
            self.failures.append(f"{name}: {result.get('checks')}")
        print(f"  {name}: {_short(result)}", flush=True)
        return result

    # -- the servers ------------------------------------------------------------------------

    async def baselines(self) -> tuple[Server, Server]:
        bare_port, sio_port = free_port(), free_port()
        bare = start(
            "bare",
            ["-m", "bench.baselines.bare_aiohttp", str(bare_port)],
            port=bare_port,
            log_dir=self.work,
        )
        sio = start(
            "socketio",
            ["-m", "bench.baselines.socketio_relay", str(sio_port)],
            port=sio_port,
            log_dir=self.work,
        )
        await wait_ready(bare)
        await wait_ready(sio)
        return bare, sio

    async def desk_chats(self, hub: HubUnderTest, config: Path, count: int) -> Agent:
        """``count`` conversations in the desk queue, accepted by one signed-in agent."""
        email = f"bench-{secrets.token_hex(3)}@example.com"
        password = add_agent(config, email, max_chats=count)
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        agent = Agent(hub.base, session)
        await agent.sign_in(email, password)
        await agent.online()
        prefix = secrets.token_hex(3)
        async with aiohttp.ClientSession() as bot:
            for i in range(count):
                conversation = await escalate(bot, hub.base, f"d{prefix}-{i}", queue=DESK_QUEUE)
                hub.conversations.append(conversation)
                await agent.accept(conversation.id)
                self.desk.append(conversation)
        return agent

    # -- the runs ---------------------------------------------------------------------------

    async def relay_round(
        self, targets: list[tuple[Target, int, int]], results: dict[str, list[dict[str, Any]]]
    ) -> None:
        for target, messages, callers in targets:
            result = await saturate(target, messages=messages, callers=callers)
            results.setdefault(target.name, []).append(
                self.checked(f"relay {target.name}", result.as_dict())
            )

    async def database(
        self, name: str, url: str, bare: Server, sio: Server, baselines: dict[str, Any]
    ) -> dict[str, Any]:
        print(f"{name}:", flush=True)
        self.desk: list[Conversation] = []
        hub = await start_hub(self.work, url, name=f"hub-{name}")
        config = self.work / f"hub-{name}.toml"
        try:
            webhook = await open_conversations(hub, CONVERSATIONS)
            agent = await self.desk_chats(hub, config, DESK_CHATS)
            hub_webhook = HubUnderTest(hub.server, hub.platform, webhook)
            hub_desk = HubUnderTest(hub.server, hub.platform, self.desk)
            n = self.scale(30_000, 5_000)
            targets = [
                (
                    bare_target("bare-ws", bare, CONVERSATIONS, lambda: BareWebSocket(bare.base)),
                    n,
                    200,
                ),
                (hub_target("hub-stream", hub_webhook, lambda: HubStream(hub_webhook)), n, 200),
                (
                    socketio_target(
                        "socketio", sio, CONVERSATIONS, lambda: SocketIoIngress(sio.base)
                    ),
                    n // 3,
                    200,
                ),
                (hub_target("hub-batch", hub_webhook, lambda: HubBatch(hub_webhook)), n, 32),
                (
                    bare_target("bare-http", bare, CONVERSATIONS, lambda: BareHttp(bare.base)),
                    n // 5,
                    32,
                ),
                (hub_target("hub-post", hub_webhook, lambda: HubPost(hub_webhook)), n // 5, 32),
                (
                    hub_target("hub-dashboard", hub_desk, lambda: DashboardSocket(agent)),
                    n // 3,
                    100,
                ),
            ]
            relays: dict[str, list[dict[str, Any]]] = {}
            for _ in range(self.scale(2, 1)):
                await self.relay_round(targets, relays)
            for key in ("bare-ws", "socketio", "bare-http"):
                baselines.setdefault(key, []).extend(relays.pop(key))

            rates: dict[str, Any] = {}
            seconds = self.scale(6, 3)
            for rate, target in (
                (1000, targets[1][0]),
                (1000, targets[5][0]),
                (1000, targets[0][0]),
                (100, targets[1][0]),
                (100, targets[5][0]),
                (100, targets[0][0]),
            ):
                run = await offered(
                    target, rate=rate, seconds=seconds if rate > 100 else seconds * 2
                )
                key = f"{target.name}@{rate}"
                rates[key] = self.checked(f"offered {key}/s", run.as_dict())

            escalated = self.checked(
                "escalations",
                await escalations(hub, count=self.scale(3000, 500), concurrency=32),
            )
            more = self.scale(5000, 1000) - len(hub.conversations)
            if more > 0:
                await open_conversations(hub, more, join=False, concurrency=64)
            storm_result = self.checked(
                "reconnect storm", await storm(hub, hub.conversations[: self.scale(5000, 1000)])
            )
            await agent.session.close()
            return {
                "relay": relays,
                "offered": rates,
                "escalations": escalated,
                "storm": storm_result,
            }
        finally:
            hub.server.stop()
            await hub.platform.stop()

    async def memory(self, bare: Server) -> dict[str, Any]:
        """Idle streams on a hub of its own (SQLite), beside bare aiohttp."""
        steps = [1000, 5000, 10_000] if not self.quick else [500, 1000]
        print("memory:", flush=True)
        hub = await start_hub(
            self.work, f"sqlite+aiosqlite:///{self.work}/memory.db", name="hub-memory"
        )
        try:
            conversations = await open_conversations(hub, steps[-1], join=False, concurrency=64)
            hub_urls = [hub.stream_url(c) for c in conversations]
            hub_figures = await idle_streams(hub.server, hub_urls, steps)
            base = bare.base.replace("http://", "ws://")
            bare_urls = [f"{base}/stream/idle{i}" for i in range(steps[-1])]
            bare_figures = await idle_streams(bare, bare_urls, steps)
        finally:
            hub.server.stop()
            await hub.platform.stop()
        result = {"hub": hub_figures, "bare-aiohttp": bare_figures}
        print(
            f"  hub {[f['bytesPerStream'] for f in hub_figures]} B/stream, "
            f"bare {[f['bytesPerStream'] for f in bare_figures]} B/stream",
            flush=True,
        )
        return result

    async def two_processes(self, url: str) -> dict[str, Any]:
        """Ingress on process A, chatbot streams on process B (PostgreSQL and Redis)."""
        print("two processes:", flush=True)
        platform_ = Platform()
        await platform_.start()
        # Channels of its own: other runs may share this Redis.
        env = {"OFFLOAD_HUB_NOTICE_PREFIX": f"bench_{secrets.token_hex(3)}"}
        a = await start_hub(
            self.work, url, name="hub-a", redis_url=REDIS, platform=platform_, env=env
        )
        b = await start_hub(
            self.work, url, name="hub-b", redis_url=REDIS, platform=platform_, env=env
        )
        try:
            conversations = await open_conversations(a, CONVERSATIONS)
            on_b = HubUnderTest(b.server, platform_, conversations)
            ingress_on_a = HubUnderTest(a.server, platform_, conversations)
            target = hub_target("two-process", on_b, lambda: HubStream(ingress_on_a))
            target.server = _Both(a.server, b.server)  # CPU of both processes, per message
            result = await saturate(target, messages=self.scale(20_000, 3_000), callers=200)
            return self.checked("relay A->B", result.as_dict())
        finally:
            a.server.stop()
            b.server.stop()
            await platform_.stop()


class _Both:
    """Two servers measured as one (their CPU seconds added)."""

    def __init__(self, *servers: Server) -> None:
        self.servers = servers
        self.name = "+".join(s.name for s in servers)

    def cpu_seconds(self) -> float:
        return sum(s.cpu_seconds() for s in self.servers)


def _short(result: dict[str, Any]) -> str:
    keys = (
        "messagesPerSecond",
        "cpuMicrosPerMessage",
        "p50Ms",
        "p99Ms",
        "perSecond",
        "cpuMicrosPerEscalation",
        "secondsToAllResumed",
    )
    shown = {k: result[k] for k in keys if result.get(k) is not None}
    if not result.get("correct", True):
        shown["CHECKS"] = result.get("checks")
    return json.dumps(shown)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="small runs (a smoke test)")
    parser.add_argument("--no-write", action="store_true", help="print only; keep results")
    args = parser.parse_args(argv)
    pin_client()
    _raise_file_limit()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="offload-hub-bench-"))
    suite = Suite(work, args.quick)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    bare, sio = await suite.baselines()
    outputs: dict[str, dict[str, Any]] = {}
    try:
        for name in args.databases.split(","):
            baselines: dict[str, Any] = {}
            database: PostgresDatabase | None = None
            if name == "sqlite":
                url = f"sqlite+aiosqlite:///{work}/hub.db"
            else:
                database = PostgresDatabase()
                url = await database.create()
            try:
                figures = await suite.database(name, url, bare, sio, baselines)
                if name == "sqlite":
                    figures["memory"] = await suite.memory(bare)
                else:
                    figures["twoProcesses"] = await suite.two_processes(url)
            finally:
                if database is not None:
                    await database.drop()
            outputs[name] = {
                "date": when,
                "machine": machine(),
                "database": name,
                "quick": args.quick,
                "baselines": baselines,
                **figures,
            }
    finally:
        bare.stop()
        sio.stop()
    took = time.monotonic() - started
    print(f"done in {took:.0f} s", flush=True)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        for name, output in outputs.items():
            output["suiteSeconds"] = round(took)
            (RESULTS / f"{name}.json").write_text(json.dumps(output, indent=1) + "\n")
        report.update_readme()
    shutil.rmtree(work, ignore_errors=True)
    if suite.failures:
        print("checks failed:\n  " + "\n  ".join(suite.failures), file=sys.stderr)
        return 1
    return 0


def run(coroutine: Callable[[list[str]], Awaitable[int]]) -> int:
    with contextlib.suppress(ImportError):
        import uvloop

        return int(uvloop.run(coroutine(sys.argv[1:])))
    return asyncio.run(coroutine(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(run(main))
