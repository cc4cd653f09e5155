"""Escalations per second with a realistic transcript (20 items), through the whole hub:
the v1 API, the journal, routing to the webhook provider and its call to the platform."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import aiohttp

from bench.hub import HubUnderTest, escalate
from bench.procs import settle_cpu
from bench.streams import percentile


async def escalations(
    hub: HubUnderTest, *, count: int, concurrency: int = 32, items: int = 20, timeout: float = 60
) -> dict[str, Any]:
    prefix = "e" + secrets.token_hex(4)
    opened_before = hub.platform.received.get("conversation.opened", 0)
    latencies: list[float] = []
    failures = 0
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await settle_cpu(hub.server)
        cpu0, t0 = hub.server.cpu_seconds(), time.perf_counter()

        async def one(i: int) -> None:
            nonlocal failures
            async with semaphore:
                started = time.perf_counter()
                try:
                    conversation = await escalate(session, hub.base, f"{prefix}-{i}", items)
                except RuntimeError:
                    failures += 1
                    return
                latencies.append(time.perf_counter() - started)
                hub.conversations.append(conversation)

        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(count))), timeout)
        t1, cpu1 = time.perf_counter(), hub.server.cpu_seconds()
    opened = hub.platform.received.get("conversation.opened", 0) - opened_before
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    done = len(latencies)
    return {
        "escalations": done,
        "transcriptItems": items,
        "seconds": round(t1 - t0, 3),
        "perSecond": round(done / (t1 - t0), 1),
        "cpuMicrosPerEscalation": round((cpu1 - cpu0) / done * 1e6, 1) if done else None,
        "p50Ms": None if p50 is None else round(p50 * 1000, 2),
        "p99Ms": None if p99 is None else round(p99 * 1000, 2),
        "checks": {"failed": failures, "notOpenedAtPlatform": max(0, done - opened)},
        "correct": failures == 0 and opened >= done,
    }
