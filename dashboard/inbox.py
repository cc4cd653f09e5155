"""The inbox: what waits at the desk, the conversations I hold (with unread counts), and
the ones I closed lately. The script redraws it from ``/inbox/state`` on live events."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dashboard.presenters import inbox_row
from dashboard.render import page
from dashboard.sessions import Signed, signed_in
from hub import keys
from hub.store.inbox import held_by, recently_closed_by, waiting_at

routes = web.RouteTableDef()


async def inbox_state(request: web.Request, signed: Signed) -> dict[str, Any]:
    hub = request.config_dict
    workspace = hub[keys.WORKSPACE]
    instances = list(workspace.desks)
    me = signed.agent.id
    async with hub[keys.DATABASE].read() as conn:
        waiting = await waiting_at(instances, conn=conn)
        mine = await held_by(me, instances, conn=conn)
        closed = await recently_closed_by(me, instances, conn=conn)
    names: dict[str, str] = {}
    if any(item.offered_to not in (None, me) for item in waiting):
        names = {agent.id: agent.name for agent in await workspace.agents()}
    now = hub[keys.CLOCK].now()

    def rows(items: list[Any]) -> list[dict[str, Any]]:
        return [inbox_row(request, item, me=me, names=names, now=now) for item in items]

    held = rows(mine)
    return {
        "waiting": rows(waiting),
        "mine": held,
        "closed": rows(closed),
        "counts": {
            "waiting": len(waiting),
            "mine": len(held),
            "unread": sum(row["unread"] for row in held),
            "max_chats": signed.agent.max_chats,
        },
    }


@routes.get("/", name="inbox")
@signed_in
async def inbox(request: web.Request, signed: Signed) -> web.StreamResponse:
    return page(request, signed, "inbox.html", await inbox_state(request, signed))


@routes.get("/inbox/state", name="inbox_state")
@signed_in
async def inbox_json(request: web.Request, signed: Signed) -> web.StreamResponse:
    return web.json_response(await inbox_state(request, signed))
