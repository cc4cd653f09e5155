"""Dead letters: deliveries the hub gave up on (bot callbacks, provider calls), sent again
by an admin once the other side is fixed."""

from __future__ import annotations

from aiohttp import web

from dashboard.render import page
from dashboard.sessions import Signed, admin_only
from hub import keys
from hub.chatlayer.delivery import KIND as CHATLAYER
from hub.chatlayer.outgoing import RESUME
from hub.errors import NotFound
from hub.store.outbox import dead_letters

routes = web.RouteTableDef()


async def _page(
    request: web.Request, signed: Signed, *, sent: str | None = None, status: int = 200
) -> web.Response:
    async with request.config_dict[keys.DATABASE].read() as conn:
        dead = await dead_letters(conn=conn, limit=200)
    # Failed hand-backs to Chatlayer: each leaves a user with a paused, silent bot.
    paused = [row for row in dead if is_chatlayer_hand_back(row)]
    return page(
        request,
        signed,
        "admin/deliveries.html",
        {"dead": dead, "sent": sent, "paused": paused, "hand_back": is_chatlayer_hand_back},
        status=status,
    )


def is_chatlayer_hand_back(row: dict[str, object]) -> bool:
    return str(row["target"]).startswith(f"{CHATLAYER}:") and row["kind"] == RESUME


@routes.get("/admin/deliveries", name="admin_deliveries")
@admin_only
async def deliveries(request: web.Request, signed: Signed) -> web.StreamResponse:
    return await _page(request, signed)


@routes.post("/admin/deliveries/{event_id}/redeliver", name="admin_redeliver")
@admin_only
async def redeliver(request: web.Request, signed: Signed) -> web.StreamResponse:
    event_id = request.match_info["event_id"]
    if not await request.config_dict[keys.DISPATCHER].redeliver(event_id):
        raise NotFound("this delivery is not a dead letter (any more)")
    return await _page(request, signed, sent=event_id)
