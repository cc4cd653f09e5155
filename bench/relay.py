"""Relay runs: agent messages in through one ingress, out to chatbot streams.

A *target* is a server with its streams and ingresses: the hub (persisting every message)
or a baseline (persisting nothing). Two kinds of run:

- :func:`saturate`: as many messages as the ingress's callers keep in flight, for the
  best throughput; server CPU per message, messages/s, p50/p99 latency;
- :func:`offered`: a fixed rate (1,000 or 100 messages/s), for latency at a load the
  server can carry and for the cost of a message at light load.

Each run checks itself: every message arrives once, in the order it was sent within its
conversation, with no gap in the stream's seqs. A run that fails its checks says so in its
result, and the suite reports it as a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from bench.hub import HubUnderTest
from bench.ingress import Ingress, Item
from bench.procs import Server, settle_cpu
from bench.sio_client import SocketIO
from bench.streams import Tally, follow_ws, percentile, record


class Measured(Protocol):
    """What a run measures: a server (or several) whose CPU seconds the OS counts."""

    def cpu_seconds(self) -> float: ...


@dataclass
class Target:
    """What a run needs to know of a server."""

    name: str
    server: Measured
    conversations: list[str]
    open_stream: Callable[[aiohttp.ClientSession, str, Tally, Callable[[], None]], Awaitable[None]]
    ingress: Callable[[], Ingress]


def bare_target(name: str, server: Server, count: int, ingress: Callable[[], Ingress]) -> Target:
    base = server.base.replace("http://", "ws://")

    async def open_stream(
        session: aiohttp.ClientSession, conversation: str, tally: Tally, ready: Callable[[], None]
    ) -> None:
        await follow_ws(session, f"{base}/stream/{conversation}", conversation, tally, ready)

    return Target(name, server, [f"c{i}" for i in range(count)], open_stream, ingress)


def socketio_target(
    name: str, server: Server, count: int, ingress: Callable[[], Ingress]
) -> Target:
    async def open_stream(
        session: aiohttp.ClientSession, conversation: str, tally: Tally, ready: Callable[[], None]
    ) -> None:
        client = SocketIO(session, server.base, auth={"conversation": conversation})
        client.on_event = lambda name, data: record(data, conversation, tally, check_seq=True)
        await client.connect()
        ready()
        try:
            await asyncio.Event().wait()
        finally:
            await client.close()

    return Target(name, server, [f"c{i}" for i in range(count)], open_stream, ingress)


def hub_target(name: str, hub: HubUnderTest, ingress: Callable[[], Ingress]) -> Target:
    by_id = {conversation.id: conversation for conversation in hub.conversations}

    async def open_stream(
        session: aiohttp.ClientSession, conversation: str, tally: Tally, ready: Callable[[], None]
    ) -> None:
        await follow_ws(session, hub.stream_url(by_id[conversation]), conversation, tally, ready)

    return Target(name, hub.server, list(by_id), open_stream, ingress)


class Streams:
    """One chatbot stream per conversation of a target, for the life of a run."""

    def __init__(self, target: Target, session: aiohttp.ClientSession, tally: Tally) -> None:
        self.target = target
        self.session = session
        self.tally = tally
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Streams:
        ready = 0
        all_ready = asyncio.Event()

        def one_ready() -> None:
            nonlocal ready
            ready += 1
            if ready == len(self.target.conversations):
                all_ready.set()

        for conversation in self.target.conversations:
            self.tasks.append(
                asyncio.create_task(
                    self.target.open_stream(self.session, conversation, self.tally, one_ready)
                )
            )
        waiter = asyncio.create_task(all_ready.wait())
        done, _ = await asyncio.wait(
            [waiter, *self.tasks], timeout=60, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
            for task in done:
                task.result()  # raises what broke the stream
            raise RuntimeError("the streams did not all open within 60 s")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _arrived(tally: Tally, timeout: float) -> None:
    try:
        await asyncio.wait_for(tally.done.wait(), timeout)
    except TimeoutError:
        raise RuntimeError(
            f"only {tally.arrivals} of {tally.expected} messages arrived in {timeout:g}s "
            f"({tally.checks()})"
        ) from None


# Message numbers never repeat in one suite: a stream that replays an earlier run's
# messages (the hub's log keeps them) cannot mistake them for this run's.
_numbers = itertools.count()


def _plan(conversations: list[str], total: int) -> list[Item]:
    return [(next(_numbers), conversations[i % len(conversations)]) for i in range(total)]


async def _send_all(
    target: Target, items: list[Item], callers: int, tally: Tally, session: aiohttp.ClientSession
) -> None:
    """Each caller owns a share of the conversations and sends their messages in order."""
    callers = min(callers, len(target.conversations))
    shares: list[list[Item]] = [[] for _ in range(callers)]
    owner = {conversation: i % callers for i, conversation in enumerate(target.conversations)}
    for item in items:
        shares[owner[item[1]]].append(item)
    connections = max(1, min(4, callers))
    ingresses = [target.ingress() for _ in range(connections)]
    for ingress in ingresses:
        await ingress.open(session)

    async def caller(index: int) -> None:
        ingress = ingresses[index % connections]
        share = shares[index]
        for start in range(0, len(share), ingress.chunk):
            chunk = share[start : start + ingress.chunk]
            for n, _ in chunk:
                tally.sent(n)
            await ingress.send(chunk)

    try:
        await asyncio.gather(*(caller(i) for i in range(callers)))
    finally:
        for ingress in ingresses:
            await ingress.close()


@dataclass
class RelayResult:
    target: str
    messages: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]
    checks: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        p50 = percentile(self.latencies, 0.5)
        p99 = percentile(self.latencies, 0.99)
        return {
            "target": self.target,
            "messages": self.messages,
            "seconds": round(self.seconds, 3),
            "messagesPerSecond": round(self.messages / self.seconds, 1) if self.seconds else None,
            "cpuMicrosPerMessage": (
                round(self.cpu_seconds / self.messages * 1e6, 1) if self.messages else None
            ),
            "cpuShare": round(self.cpu_seconds / self.seconds, 3) if self.seconds else None,
            "p50Ms": None if p50 is None else round(p50 * 1000, 2),
            "p99Ms": None if p99 is None else round(p99 * 1000, 2),
            "checks": self.checks,
            "correct": not any(self.checks.values()),
        }


async def _warm_up(
    target: Target,
    session: aiohttp.ClientSession,
    tally: Tally,
    count: int,
    callers: int,
    timeout: float,
) -> None:
    """``count`` messages through the whole path (streams open, caches filled), then wait
    for the server's CPU to settle before the measured run."""
    tally.expected = count
    await _send_all(target, _plan(target.conversations, count), callers, tally, session)
    await _arrived(tally, timeout)
    await settle_cpu(target.server)


async def saturate(
    target: Target, *, messages: int, callers: int, warmup: int = 500, timeout: float = 60.0
) -> RelayResult:
    """Send ``messages`` as fast as ``callers`` in flight allow; measure the server."""
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        Streams(target, session, tally),
    ):
        await _warm_up(target, session, tally, warmup, callers, timeout)
        tally.reset(messages)
        cpu0, t0 = target.server.cpu_seconds(), time.perf_counter()
        await asyncio.wait_for(
            _send_all(target, _plan(target.conversations, messages), callers, tally, session),
            timeout,
        )
        await _arrived(tally, timeout)
        t1, cpu1 = time.perf_counter(), target.server.cpu_seconds()
    return RelayResult(
        target.name, tally.arrivals, t1 - t0, cpu1 - cpu0, tally.latencies, tally.checks()
    )


async def offered(
    target: Target, *, rate: float, seconds: float, warmup: int = 200, timeout: float = 30.0
) -> RelayResult:
    """Offer ``rate`` messages per second for ``seconds``, each sent on its own schedule."""
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        Streams(target, session, tally),
    ):
        await _warm_up(target, session, tally, warmup, 8, timeout)
        total = int(rate * seconds)
        tally.reset(total)
        items = _plan(target.conversations, total)
        ingress = target.ingress()
        await ingress.open(session)
        # One lane per conversation keeps each conversation's messages in order even
        # when a slow answer holds one back; lanes never wait for each other.
        lanes: dict[str, asyncio.Queue[Item | None]] = {}
        loop = asyncio.get_running_loop()

        async def lane(queue: asyncio.Queue[Item | None]) -> None:
            while (item := await queue.get()) is not None:
                await ingress.send([item])

        workers = []
        for conversation in target.conversations:
            lanes[conversation] = asyncio.Queue()
            workers.append(asyncio.create_task(lane(lanes[conversation])))
        cpu0, t0 = target.server.cpu_seconds(), time.perf_counter()
        start = loop.time()
        for i, item in enumerate(items):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tally.sent(item[0])
            lanes[item[1]].put_nowait(item)
        for queue in lanes.values():
            queue.put_nowait(None)
        await asyncio.wait_for(asyncio.gather(*workers), timeout)
        await _arrived(tally, timeout)
        t1, cpu1 = time.perf_counter(), target.server.cpu_seconds()
        await ingress.close()
    return RelayResult(
        target.name, tally.arrivals, t1 - t0, cpu1 - cpu0, tally.latencies, tally.checks()
    )
