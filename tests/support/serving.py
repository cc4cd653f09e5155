"""Running a hub as a separate process in a test: a free port, and waiting until it serves."""

from __future__ import annotations

import asyncio
import socket

import aiohttp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serving(session: aiohttp.ClientSession, base: str) -> None:
    """Wait until ``base``/healthz answers 200 (the caller bounds the wait)."""
    while True:
        try:
            async with session.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
