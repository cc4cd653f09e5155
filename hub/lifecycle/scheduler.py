"""APScheduler (3.x) runs the sweeps: often for deadlines, less often for the rest."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from hub import keys
from hub.lifecycle.sweeps import Lifecycle

log = logging.getLogger(__name__)

RETENTION_EVERY_SECONDS = 3600
CALLBACKS_EVERY_SECONDS = 10


def _guarded(name: str, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("lifecycle job %s failed; it runs again at its next time", name)

    return run


async def lifecycle_ctx(app: web.Application) -> AsyncIterator[None]:
    """The scheduler, started after the providers; its first tick runs at once, so what
    came due while the hub was down is acted on at start-up."""
    settings = app[keys.SETTINGS].lifecycle
    lifecycle = Lifecycle(
        settings,
        database=app[keys.DATABASE],
        journal=app[keys.JOURNAL],
        dispatcher=app[keys.DISPATCHER],
        service=app[keys.SERVICE],
        workspace=app[keys.WORKSPACE],
        host=app[keys.PROVIDERS],
        router=app[keys.ROUTER],
    )
    app[keys.LIFECYCLE] = lifecycle
    scheduler = AsyncIOScheduler(timezone=UTC)
    now = datetime.now(UTC)
    common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "next_run_time": now}
    scheduler.add_job(
        _guarded("deadlines", lifecycle.tick),
        "interval",
        seconds=settings.tick_seconds,
        id="deadlines",
        **common,
    )
    scheduler.add_job(
        _guarded("positions", lifecycle.refresh_positions),
        "interval",
        seconds=settings.position_refresh_seconds,
        id="positions",
        **common,
    )
    # An instance that was down (at start-up, say) comes back once its check() passes.
    scheduler.add_job(
        _guarded("health", app[keys.PROVIDERS].check),
        "interval",
        seconds=settings.health_check_seconds,
        id="health",
        max_instances=1,
        coalesce=True,
    )
    # Bots' callback URLs, changed by the CLI or another hub process, are picked up.
    scheduler.add_job(
        _guarded("callbacks", app[keys.CALLBACKS].refresh),
        "interval",
        seconds=CALLBACKS_EVERY_SECONDS,
        id="callbacks",
        max_instances=1,
        coalesce=True,
    )
    if settings.retention_days > 0:
        scheduler.add_job(
            _guarded("retention", lifecycle.purge),
            "interval",
            seconds=RETENTION_EVERY_SECONDS,
            id="retention",
            **common,
        )
    scheduler.start()
    app[keys.SCHEDULER] = scheduler
    yield
    scheduler.shutdown(wait=False)
