"""The event loop a serving hub runs on: uvloop when it is installed (a default dependency
on Linux and macOS), else asyncio's own. ``OFFLOAD_HUB_EVENT_LOOP=asyncio`` (or the
``event_loop`` setting) keeps the plain loop."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


def install(choice: str = "auto") -> str:
    """Make new event loops of this process ``choice``'s; returns the one in use."""
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise
            return "asyncio"
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        return "uvloop"
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    return "asyncio"
