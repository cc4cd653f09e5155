"""Memory per idle chatbot stream: a server's resident memory with N open WebSocket
streams, less what it held before them, over N (the hub beside bare aiohttp)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from typing import Any

import aiohttp

from bench.procs import Server, settle_cpu


async def idle_streams(
    server: Server,
    urls: Sequence[str],
    steps: Sequence[int],
    *,
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Open streams up to each step (``urls[i]`` for the i-th), measuring RSS at each."""
    results = []
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    connector = aiohttp.TCPConnector(limit=0)
    semaphore = asyncio.Semaphore(200)
    async with aiohttp.ClientSession(connector=connector) as session:
        await settle_cpu(server)
        before = server.rss_bytes()

        async def open_one(url: str) -> None:
            async with semaphore:
                ws = await session.ws_connect(url, headers=headers, autoping=True, max_msg_size=0)
                sockets.append(ws)

        for step in steps:
            wanted = list(urls[len(sockets) : step])
            await asyncio.gather(*(open_one(url) for url in wanted))
            # Let the server finish with the backlogs it sent and settle down.
            await asyncio.sleep(1.0)
            await settle_cpu(server, within=10)
            rss = server.rss_bytes()
            results.append(
                {
                    "streams": len(sockets),
                    "rssBytes": rss,
                    "bytesPerStream": round((rss - before) / len(sockets)),
                }
            )
        for ws in sockets:
            await ws.close()
    gc.collect()
    return results
