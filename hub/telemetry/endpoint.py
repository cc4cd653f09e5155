"""``GET /metrics``: this process's metrics in the Prometheus text format.

Open by default, as the hub listens on 127.0.0.1 unless told otherwise; with
``metrics_token`` set it answers only ``Authorization: Bearer <metrics_token>`` (401
otherwise), for a hub whose port is reachable by more than the Prometheus servers.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from hub import keys
from hub.telemetry.figures import Figures
from providers.errors import error_response

FIGURES: web.AppKey[Figures] = web.AppKey("metrics_figures", Figures)


def _authorized(request: web.Request) -> bool:
    token = request.app[keys.SETTINGS].metrics_token
    if token is None:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


async def metrics(request: web.Request) -> web.StreamResponse:
    if not _authorized(request):
        response = error_response(
            401, "unauthorized", "/metrics needs 'Authorization: Bearer <metrics_token>'"
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    await request.app[FIGURES].refresh()
    # The classic text format, or OpenMetrics when the scraper asks for it.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encode(request.app[keys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": content_type})
