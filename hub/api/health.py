"""Liveness and readiness."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web

from hub import keys
from hub.api.registry import ApiRoutes, json_response
from hub.api.schemas import Out


class HealthOut(Out):
    status: str


class ReadyOut(Out):
    status: str
    database: str
    providers: dict[str, dict[str, object]]


routes = ApiRoutes()


@routes.route(
    "GET", "/healthz", tag="operations", summary="The process is alive", responses={200: HealthOut}
)
async def healthz(request: web.Request) -> web.Response:
    return json_response(HealthOut(status="ok"))


@routes.route(
    "GET",
    "/readyz",
    tag="operations",
    summary="The hub can serve: its database answers; each provider's health",
    responses={200: ReadyOut, 503: ReadyOut},
)
async def readyz(request: web.Request) -> web.Response:
    """Ready means the database answers. Provider health is reported, not required: an
    unhealthy provider is skipped by routing, and the rest of the chain still serves."""
    database = "ok"
    try:
        async with request.app[keys.DATABASE].read() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        database = f"unavailable: {type(exc).__name__}"
    providers = {
        instance.name: {
            "type": instance.type,
            "healthy": instance.usable,
            "detail": instance.detail,
        }
        for instance in request.app[keys.PROVIDERS]
    }
    ready = database == "ok"
    return json_response(
        ReadyOut(
            status="ready" if ready else "unavailable", database=database, providers=providers
        ),
        200 if ready else 503,
    )
