"""The baselines the hub is measured beside, in the same run: relays that persist nothing.

Each is a small server started in its own process, like the hub, on the same event loop
(uvloop when installed) and the same aiohttp, so the difference is the hub's own work.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web


def run(app: web.Application, port: int) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
