"""An adapter's inbound routes on a real local server, mounted as the hub mounts them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from providers.base import Provider
from providers.testing.context import RecordingContext


@contextlib.asynccontextmanager
async def serve_routes(provider: Provider, context: RecordingContext) -> AsyncIterator[str]:
    """Serve ``provider.routes()`` under ``/providers/{instance}/`` on 127.0.0.1 (a free
    port) for the block, and point ``context.url_for`` there; yields the base URL."""
    app = web.Application()
    routes = list(provider.routes())
    if routes:
        inbound = web.Application()
        inbound.router.add_routes(routes)
        app.add_subapp(f"/providers/{provider.instance}/", inbound)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        context.base_url = f"http://127.0.0.1:{port}"
        yield context.base_url
    finally:
        await runner.cleanup()
