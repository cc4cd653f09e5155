"""The live overview: waiting, active, average wait, agents online, who is doing what, and
the users' ratings per agent and per queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from dashboard.presenters import duration, inbox_row, link
from dashboard.render import page
from dashboard.sessions import Signed, admin_only
from hub import keys
from hub.clock import iso
from hub.store.inbox import waiting_at
from hub.store.overview import desk_figures
from hub.store.ratings import RatingSummary, rating_summaries

routes = web.RouteTableDef()
# The average wait is over the conversations taken in this window.
WAIT_WINDOW = timedelta(hours=24)
# Ratings are over the conversations that ended in this window.
RATING_WINDOW = timedelta(days=30)


def rating_row(summary: RatingSummary) -> dict[str, Any]:
    return {
        "id": summary.key,
        "name": summary.name,
        "count": summary.count,
        "average": "\u2014" if summary.average is None else f"{summary.average:.1f}",
        "average_of": summary.numeric,
        "positive": "\u2014" if summary.positive is None else f"{summary.positive:.0%}",
        "positive_of": summary.answered,
    }


async def overview_state(request: web.Request, signed: Signed) -> dict[str, Any]:
    hub = request.config_dict
    workspace = hub[keys.WORKSPACE]
    instances = list(workspace.desks)
    now = hub[keys.CLOCK].now()
    async with hub[keys.DATABASE].read() as conn:
        figures = await desk_figures(instances, conn=conn, since=now - WAIT_WINDOW)
        waiting = await waiting_at(instances, conn=conn)
        ratings = await rating_summaries(conn=conn, since=now - RATING_WINDOW)
    agents = await workspace.agents()
    names = {agent.id: agent.name for agent in agents}
    return {
        "figures": {
            "waiting": figures.waiting,
            "active": figures.active,
            "average_wait": duration(figures.average_wait),
            "taken": figures.taken,
            "longest_wait": duration(
                (now - figures.oldest_waiting_since).total_seconds()
                if figures.oldest_waiting_since
                else None
            ),
            "online": sum(agent.presence == "online" for agent in agents),
            "away": sum(agent.presence == "away" for agent in agents),
        },
        "agents": [
            {
                "id": agent.id,
                "name": agent.name,
                "url": link(request, "admin_agent", agent_id=agent.id),
                "presence": agent.presence,
                "load": f"{agent.active} of {agent.max_chats}",
                "offered": agent.offered,
            }
            for agent in agents
        ],
        "waiting": [
            inbox_row(request, item, me=signed.agent.id, names=names, now=now) for item in waiting
        ],
        "ratings_by_agent": [rating_row(summary) for summary in ratings.by_agent],
        "ratings_by_queue": [rating_row(summary) for summary in ratings.by_queue],
        "at": iso(now),
    }


@routes.get("/admin/overview", name="admin_overview")
@admin_only
async def overview(request: web.Request, signed: Signed) -> web.StreamResponse:
    return page(request, signed, "admin/overview.html", await overview_state(request, signed))


@routes.get("/admin/overview/state", name="admin_overview_state")
@admin_only
async def overview_json(request: web.Request, signed: Signed) -> web.StreamResponse:
    return web.json_response(await overview_state(request, signed))
