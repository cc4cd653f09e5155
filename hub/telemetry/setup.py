"""Wiring observability into an app (the app factory calls :func:`install`).

It gives the app its own :class:`~hub.telemetry.metrics.HubMetrics` (``app[keys.METRICS]``),
the request middleware (outermost, so it sees every answer, errors included), the
``/metrics`` route, the scrape-time figures and the journal tap that measures queue waits.
Logging is set up by the command that runs the hub (:func:`hub.telemetry.logs.configure_logging`).
"""

from __future__ import annotations

from aiohttp import web

from hub import keys
from hub.telemetry.endpoint import FIGURES, metrics
from hub.telemetry.figures import Figures
from hub.telemetry.metrics import HubMetrics
from hub.telemetry.requests import on_response_prepare, request_middleware
from hub.telemetry.waits import wait_tap


def install(app: web.Application) -> None:
    hub_metrics = app[keys.METRICS] = HubMetrics()
    figures = app[FIGURES] = Figures(
        app[keys.CLOCK],
        database=lambda: app.get(keys.DATABASE),
        host=lambda: app.get(keys.PROVIDERS),
        router=lambda: app.get(keys.ROUTER),
        journal=lambda: app.get(keys.JOURNAL),
        dispatcher=lambda: app.get(keys.DISPATCHER),
    )
    hub_metrics.registry.register(figures)
    app.middlewares.insert(0, request_middleware)
    app.on_response_prepare.append(on_response_prepare)
    app.router.add_get("/metrics", metrics, name="metrics")
    app.on_startup.append(_tap_the_journal)  # after cleanup_ctx has built the journal


async def _tap_the_journal(app: web.Application) -> None:
    app[keys.JOURNAL].taps.append(wait_tap(app[keys.METRICS]))
