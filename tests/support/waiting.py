"""Waiting on a condition, within a time limit (never a bare sleep)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def until(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, poll: float = 0.01
) -> None:
    """Return once ``condition`` holds; TimeoutError if it does not within ``timeout``."""
    async with asyncio.timeout(timeout):
        while True:
            holds = condition()
            if inspect.isawaitable(holds):
                holds = await holds
            if holds:
                return
            await asyncio.sleep(poll)
